// --device for the commands that run models: "cpu" or "cuda:N", checked against this build.
#pragma once
#include <torch/torch.h>

#include <string>

#include "ptx/core/error.h"

namespace ptx::app {

inline torch::Device parse_device(const std::string& text) {
  try {
    const torch::Device device(text);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw core::UsageError("--device " + text + ": this LibTorch has no CUDA device available; use --device cpu");
    return device;
  } catch (const c10::Error&) {
    throw core::UsageError("--device '" + text + "': expected cpu or cuda:N");
  }
}

}  // namespace ptx::app

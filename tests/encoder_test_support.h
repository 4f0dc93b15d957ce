// Helpers shared by the encoder tests (test_models_senet, _densenet, _vgg): realistic batch-norm
// state and the check that folding batch norm keeps eval outputs.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "ptx/models/fold.h"
#include "ptx/models/model.h"

namespace ptx::test {

// Random batch-norm affine parameters and running statistics (the average over three random
// training batches of batch_shape, run through `forward`); leaves the module in eval mode.
inline void randomize_batch_norms(torch::nn::Module& module, torch::IntArrayRef batch_shape,
                                  const std::function<void(const torch::Tensor&)>& forward) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules()) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
      bn->options.momentum(c10::nullopt);  // running statistics: the average over the batches
    }
  }
  module.train();
  for (int i = 0; i < 3; ++i) forward(torch::randn(batch_shape));
  module.eval();
}

inline size_t count_batch_norms(torch::nn::Module& module) {
  size_t n = 0;
  for (auto& m : module.modules())
    if (m->as<torch::nn::BatchNorm2d>()) ++n;
  return n;
}

// Eval outputs of `forward` on x before and after models::prepare_for_inference (folding, then
// channels-last weights and input); returns max |after - before| and prints it with the scale.
inline double fold_difference(models::ModelImpl& model, const torch::Tensor& x,
                              const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                              const std::string& label) {
  model.eval();
  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = forward(x);
  }
  models::prepare_for_inference(model, /*channels_last=*/true);
  c10::InferenceMode inference;
  const auto after = forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(after.sizes(), before.sizes()) << label;
  const double diff = (after - before).abs().max().item<double>();
  std::cout << "[ fold     ] " << label << ": max |folded - plain| = " << diff << " (output scale "
            << before.abs().max().item<double>() << ")\n";
  return diff;
}

// Every feature map flattened and concatenated: how the parity scripts compare features().
inline torch::Tensor flat_features(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> flat;
  for (const auto& m : maps) flat.push_back(m.flatten(1));
  return torch::cat(flat, 1);
}

}  // namespace ptx::test

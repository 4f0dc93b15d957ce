// Helpers shared by the model tests (test_models_fold, _senet, _densenet, _vgg, ...): realistic
// batch-norm state and the check that folding batch norm keeps eval outputs.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
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

// Eval outputs of `forward` on x before and after folding batch norm; returns max |after - before|
// (the requirement: at most 1e-4). Then also converts the model to channels-last, which runs other
// convolution kernels whose different summation order is float noise proportional to the
// output's scale: checked relative to it.
inline double fold_difference(models::ModelImpl& model, const torch::Tensor& x,
                              const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                              const std::string& label) {
  model.eval();
  torch::Tensor before, folded;
  {
    torch::NoGradGuard no_grad;
    before = forward(x);
  }
  models::prepare_for_inference(model, /*channels_last=*/false);
  c10::InferenceMode inference;
  folded = forward(x);
  models::to_channels_last(model);
  const auto after = forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(after.sizes(), before.sizes()) << label;
  const double scale = std::max(1.0, before.abs().max().item<double>());
  EXPECT_LE((after - before).abs().max().item<double>(), 1e-4 * scale) << label << ": channels-last beyond float noise";
  const double diff = (folded - before).abs().max().item<double>();
  std::cout << "[ fold     ] " << label << ": max |folded - plain| = " << diff << " (output scale " << scale << ")\n";
  return diff;
}

// Every feature map flattened and concatenated: how the parity scripts compare features().
inline torch::Tensor flat_features(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> flat;
  for (const auto& m : maps) flat.push_back(m.flatten(1));
  return torch::cat(flat, 1);
}

}  // namespace ptx::test

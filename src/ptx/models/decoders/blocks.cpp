#include "ptx/models/decoders/blocks.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

const std::vector<std::string>& decoder_attention_names() {
  static const std::vector<std::string> names{"none", "scse"};
  return names;
}

void check_decoder_attention(const std::string& name) {
  const auto& names = decoder_attention_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw core::Error("unknown decoder attention '" + name + "': valid values are " + list);
}

nn::Sequential conv_bn_relu(int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, kernel_size).padding(kernel_size / 2).bias(false)),
      nn::BatchNorm2d(out_channels), nn::ReLU(nn::ReLUOptions().inplace(true)));
}

DoubleConvImpl::DoubleConvImpl(int64_t in_channels, int64_t out_channels) {
  first = register_module("0", conv_bn_relu(in_channels, out_channels));
  second = register_module("1", conv_bn_relu(out_channels, out_channels));
}

void DoubleConvImpl::fold_batch_norm() {
  first = replace_module("0", fold_sequential(first));
  second = replace_module("1", fold_sequential(second));
}

SCSEModuleImpl::SCSEModuleImpl(int64_t channels, int64_t reduction) {
  if (channels < 1 || reduction < 1)
    throw core::Error("scSE: channels and reduction must be >= 1, got " + std::to_string(channels) + " and " +
                      std::to_string(reduction));
  const int64_t r = std::max<int64_t>(1, channels / reduction);
  cSE = register_module("cSE", nn::Sequential(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)),
                                              nn::Conv2d(nn::Conv2dOptions(channels, r, 1)),
                                              nn::ReLU(nn::ReLUOptions().inplace(true)),
                                              nn::Conv2d(nn::Conv2dOptions(r, channels, 1)), nn::Sigmoid()));
  sSE = register_module("sSE", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 1, 1)), nn::Sigmoid()));
}

torch::Tensor SCSEModuleImpl::forward(const torch::Tensor& x) {
  return x * cSE->forward(x) + x * sSE->forward(x);
}

DecoderAttentionImpl::DecoderAttentionImpl(int64_t channels) {
  attention = register_module("attention", SCSEModule(channels));
}

int64_t AttentionGateImpl::intermediate_channels(int64_t skip_channels) {
  return std::max<int64_t>(1, skip_channels / 2);
}

AttentionGateImpl::AttentionGateImpl(int64_t skip_channels, int64_t gating_channels) {
  if (skip_channels < 1 || gating_channels < 1)
    throw core::Error("attention gate: skip and gating channels must be >= 1, got " +
                      std::to_string(skip_channels) + " and " + std::to_string(gating_channels));
  const int64_t f = intermediate_channels(skip_channels);
  const auto conv1x1 = [](int64_t in, int64_t out) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, 1).bias(false));
  };
  W_g = register_module("W_g", nn::Sequential(conv1x1(gating_channels, f), nn::BatchNorm2d(f)));
  W_x = register_module("W_x", nn::Sequential(conv1x1(skip_channels, f), nn::BatchNorm2d(f)));
  psi = register_module("psi", nn::Sequential(conv1x1(f, 1), nn::BatchNorm2d(1), nn::Sigmoid()));
}

torch::Tensor AttentionGateImpl::coefficients(const torch::Tensor& skip, const torch::Tensor& g) {
  if (skip.sizes().slice(2) != g.sizes().slice(2))
    throw core::Error("attention gate: the gating signal must have the skip's size");
  return psi->forward(torch::relu(W_g->forward(g) + W_x->forward(skip)));
}

torch::Tensor AttentionGateImpl::forward(const torch::Tensor& skip, const torch::Tensor& g) {
  return skip * coefficients(skip, g);
}

void AttentionGateImpl::fold_batch_norm() {
  W_g = replace_module("W_g", fold_sequential(W_g));
  W_x = replace_module("W_x", fold_sequential(W_x));
  psi = replace_module("psi", fold_sequential(psi));
}

void initialize_decoder(nn::Module& module) {
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      nn::init::xavier_uniform_(linear->weight);
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    }
  }
}

}  // namespace ptx::models

#include "ptx/models/decoders/unet.h"

#include "ptx/core/error.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"

namespace ptx::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Sequential conv_bn_relu(int64_t in, int64_t out) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
                        nn::BatchNorm2d(out), nn::ReLU(nn::ReLUOptions().inplace(true)));
}

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "(" + s + ")";
}

void check_decoder_channels(const EncoderPtr& encoder, const std::vector<int64_t>& decoder_channels) {
  if (!encoder) throw core::Error("U-Net: no encoder given");
  if (static_cast<int64_t>(decoder_channels.size()) != encoder->depth())
    throw core::Error("U-Net: encoder " + encoder->encoder_name() + " has depth " +
                      std::to_string(encoder->depth()) + " but decoder_channels " +
                      list(decoder_channels) + " has " + std::to_string(decoder_channels.size()) +
                      " entries: give one per encoder stage");
  for (auto c : decoder_channels)
    if (c < 1) throw core::Error("U-Net: decoder_channels " + list(decoder_channels) + " must all be >= 1");
}

}  // namespace

UNetDecoderBlockImpl::UNetDecoderBlockImpl(int64_t in_channels, int64_t skip_channels,
                                           int64_t out_channels) {
  conv1 = register_module("conv1", conv_bn_relu(in_channels + skip_channels, out_channels));
  conv2 = register_module("conv2", conv_bn_relu(out_channels, out_channels));
}

torch::Tensor UNetDecoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& skip,
                                            torch::IntArrayRef size) {
  auto h = F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>(size.begin(), size.end()))
                                 .mode(torch::kNearest));
  if (skip.defined()) h = torch::cat({h, skip}, 1);
  return conv2->forward(conv1->forward(h));
}

void UNetDecoderBlockImpl::fold_batch_norm() {
  conv1 = replace_module("conv1", fold_sequential(conv1));
  conv2 = replace_module("conv2", fold_sequential(conv2));
}

UNetDecoderImpl::UNetDecoderImpl(const std::vector<int64_t>& encoder_channels,
                                 const std::vector<int64_t>& decoder_channels) {
  const size_t depth = decoder_channels.size();
  if (depth < 1 || encoder_channels.size() != depth + 1)
    throw core::Error("U-Net decoder: " + std::to_string(encoder_channels.size()) +
                      " encoder maps for " + std::to_string(depth) + " decoder blocks (need blocks + 1)");
  blocks = register_module("blocks", nn::ModuleList());
  // Block i takes the previous output (the deepest encoder map for block 0) and the encoder map
  // at the next finer scale, encoder_channels[depth - 1 - i]; the last block has no skip (the
  // input, encoder map 0, is not concatenated).
  for (size_t i = 0; i < depth; ++i) {
    const int64_t in = i == 0 ? encoder_channels[depth] : decoder_channels[i - 1];
    const int64_t skip = i + 1 < depth ? encoder_channels[depth - 1 - i] : 0;
    blocks_.emplace_back(in, skip, decoder_channels[i]);
    blocks->push_back(blocks_.back());
  }
  // segmentation_models' initialize_decoder.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor UNetDecoderImpl::forward(const std::vector<torch::Tensor>& features) {
  const size_t depth = blocks_.size();
  if (features.size() != depth + 1)
    throw core::Error("U-Net decoder: got " + std::to_string(features.size()) + " feature maps, expected " +
                      std::to_string(depth + 1));
  auto x = features[depth];
  for (size_t i = 0; i < depth; ++i) {
    const bool has_skip = i + 1 < depth;
    const auto& target = has_skip ? features[depth - 1 - i] : features[0];
    x = blocks_[i]->forward(x, has_skip ? target : torch::Tensor(), target.sizes().slice(2));
  }
  return x;
}

void UNetDecoderImpl::fold_batch_norm() {
  for (auto& block : blocks_) block->fold_batch_norm();
}

UNetImpl::UNetImpl(const std::string& encoder_name, int64_t classes, int64_t in_channels,
                   std::vector<int64_t> decoder_channels)
    // decoder_channels is copied, not moved: the order the arguments are evaluated in is unspecified.
    : UNetImpl(build_encoder(encoder_name, in_channels, static_cast<int64_t>(decoder_channels.size())),
               classes, decoder_channels) {}

UNetImpl::UNetImpl(EncoderPtr encoder, int64_t classes, std::vector<int64_t> decoder_channels) {
  check_decoder_channels(encoder, decoder_channels);
  if (classes < 1) throw core::Error("U-Net: classes must be >= 1, got " + std::to_string(classes));
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", UNetDecoder(encoder_->out_channels(), decoder_channels));
  auto head = nn::Conv2d(nn::Conv2dOptions(decoder_channels.back(), classes, 3).padding(1));
  // segmentation_models' initialize_head.
  nn::init::xavier_uniform_(head->weight);
  nn::init::zeros_(head->bias);
  head_ = register_module("segmentation_head", nn::Sequential(head));
}

void UNetImpl::fold_batch_norm() {
  encoder_->fold_batch_norm();
  decoder_->fold_batch_norm();
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x) {
  return head_->forward(decoder_->forward(encoder_->features(x)));
}

}  // namespace ptx::models

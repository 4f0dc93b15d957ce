#include "ptx/models/decoders/unet.h"

#include "ptx/core/error.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"

namespace ptx::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

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

UNetDecoderBlockImpl::UNetDecoderBlockImpl(int64_t in_channels, int64_t skip_channels, int64_t out_channels,
                                           const std::string& attention, bool gated) {
  check_decoder_attention(attention);
  const bool scse = attention == "scse";
  if (gated) {
    if (skip_channels < 1) throw core::Error("U-Net decoder block: an attention gate needs a skip");
    gate_ = register_module("attention_gate", AttentionGate(skip_channels, in_channels));
  }
  conv1 = register_module("conv1", conv_bn_relu(in_channels + skip_channels, out_channels));
  if (scse) attention1 = register_module("attention1", DecoderAttention(in_channels + skip_channels));
  conv2 = register_module("conv2", conv_bn_relu(out_channels, out_channels));
  if (scse) attention2 = register_module("attention2", DecoderAttention(out_channels));
}

torch::Tensor UNetDecoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& skip,
                                            torch::IntArrayRef size) {
  auto h = x.sizes().slice(2) == size
               ? x
               : F::interpolate(x, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>(size.begin(), size.end()))
                                       .mode(torch::kNearest));
  if (skip.defined()) {
    h = torch::cat({h, gate_ ? gate_->forward(skip, h) : skip}, 1);
    if (attention1) h = attention1->forward(h);
  }
  h = conv2->forward(conv1->forward(h));
  return attention2 ? attention2->forward(h) : h;
}

void UNetDecoderBlockImpl::fold_batch_norm() {
  conv1 = replace_module("conv1", fold_sequential(conv1));
  conv2 = replace_module("conv2", fold_sequential(conv2));
  if (gate_) gate_->fold_batch_norm();
}

UNetDecoderImpl::UNetDecoderImpl(const std::vector<int64_t>& encoder_channels,
                                 const std::vector<int64_t>& decoder_channels, const UNetDecoderOptions& options) {
  const size_t depth = decoder_channels.size();
  if (depth < 1 || encoder_channels.size() != depth + 1)
    throw core::Error("U-Net decoder: " + std::to_string(encoder_channels.size()) +
                      " encoder maps for " + std::to_string(depth) + " decoder blocks (need blocks + 1)");
  check_decoder_attention(options.attention);
  const int64_t head = encoder_channels[depth];
  if (options.center) center = register_module("center", DoubleConv(head, head));
  blocks = register_module("blocks", nn::ModuleList());
  // Block i takes the previous output (the deepest encoder map for block 0) and the encoder map
  // at the next finer scale, encoder_channels[depth - 1 - i]; the last block has no skip (the
  // input, encoder map 0, is not concatenated) unless the first map is a learnt one.
  for (size_t i = 0; i < depth; ++i) {
    const int64_t in = i == 0 ? head : decoder_channels[i - 1];
    const bool has_skip = i + 1 < depth || options.first_map_is_skip;
    const int64_t skip = has_skip ? encoder_channels[depth - 1 - i] : 0;
    blocks_.emplace_back(in, skip, decoder_channels[i], options.attention, options.gates && has_skip);
    has_skip_.push_back(has_skip);
    blocks->push_back(blocks_.back());
  }
  initialize_decoder(*this);
}

torch::Tensor UNetDecoderImpl::forward(std::vector<torch::Tensor> features) {
  const size_t depth = blocks_.size();
  if (features.size() != depth + 1)
    throw core::Error("U-Net decoder: got " + std::to_string(features.size()) + " feature maps, expected " +
                      std::to_string(depth + 1));
  auto x = center ? center->forward(features[depth]) : std::move(features[depth]);
  features[depth].reset();
  for (size_t i = 0; i < depth; ++i) {
    auto& target = features[depth - 1 - i];
    x = blocks_[i]->forward(x, has_skip_[i] ? target : torch::Tensor(), target.sizes().slice(2));
    target.reset();
  }
  return x;
}

void UNetDecoderImpl::fold_batch_norm() {
  if (center) center->fold_batch_norm();
  for (auto& block : blocks_) block->fold_batch_norm();
}

UNetImpl::UNetImpl(const std::string& encoder_name, int64_t classes, int64_t in_channels,
                   std::vector<int64_t> decoder_channels)
    // decoder_channels is copied, not moved: the order the arguments are evaluated in is unspecified.
    : UNetImpl(build_encoder(encoder_name, in_channels, static_cast<int64_t>(decoder_channels.size())),
               classes, decoder_channels) {}

UNetImpl::UNetImpl(EncoderPtr encoder, int64_t classes, std::vector<int64_t> decoder_channels)
    : UNetImpl(std::move(encoder), std::move(decoder_channels), SegmentationOptions{classes}) {}

UNetImpl::UNetImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels, const SegmentationOptions& options) {
  check_decoder_channels(encoder, decoder_channels);
  if (options.classes < 1) throw core::Error("U-Net: classes must be >= 1, got " + std::to_string(options.classes));
  encoder_ = register_module("encoder", std::move(encoder));
  UNetDecoderOptions decoder_options;
  decoder_options.attention = options.attention;
  decoder_options.center = uses_center_block(encoder_->encoder_name());
  decoder_ = register_module("decoder", UNetDecoder(encoder_->out_channels(), decoder_channels, decoder_options));
  heads_ = SegmentationHeads(*this, decoder_channels.back(), encoder_->out_channels().back(), options.classes,
                             options.aux_head, options.dropout);
}

void UNetImpl::fold_batch_norm() {
  encoder_->fold_batch_norm();
  decoder_->fold_batch_norm();
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x) {
  return heads_.segment(decoder_->forward(encoder_->features(x)));
}

ModelOutput UNetImpl::forward_all(const torch::Tensor& x) {
  const auto features = encoder_->features(x);
  return heads_.forward(decoder_->forward(features), features.back());
}

}  // namespace ptx::models

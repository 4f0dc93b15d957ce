#include "ptx/models/decoders/attention_unet.h"

#include "ptx/core/error.h"

namespace ptx::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "(" + s + ")";
}

}  // namespace

DoubleConvEncoderImpl::DoubleConvEncoderImpl(int64_t in_channels, const std::vector<int64_t>& filters)
    : filters_(filters) {
  if (filters.size() < 2 || filters.size() > 5)
    throw core::Error("Attention U-Net: the standalone encoder takes 2 to 5 levels, got filters " + list(filters));
  if (in_channels < 1) throw core::Error("Attention U-Net: in_channels must be >= 1");
  for (auto f : filters)
    if (f < 1) throw core::Error("Attention U-Net: filters " + list(filters) + " must all be >= 1");
  blocks = register_module("blocks", nn::ModuleList());
  int64_t in = in_channels;
  for (auto f : filters) {
    levels_.emplace_back(in, f);
    blocks->push_back(levels_.back());
    in = f;
  }
  initialize_decoder(*this);
}

std::vector<torch::Tensor> DoubleConvEncoderImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> maps;
  auto h = x;
  for (size_t i = 0; i < levels_.size(); ++i) {
    if (i > 0) h = F::max_pool2d(h, F::MaxPool2dFuncOptions(2).stride(2));
    h = levels_[i]->forward(h);
    maps.push_back(h);
  }
  return maps;
}

void DoubleConvEncoderImpl::fold_batch_norm() {
  for (auto& level : levels_) level->fold_batch_norm();
}

AttentionUNetImpl::AttentionUNetImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels,
                                     const SegmentationOptions& options) {
  if (!encoder) throw core::Error("Attention U-Net: no encoder given");
  if (static_cast<int64_t>(decoder_channels.size()) != encoder->depth())
    throw core::Error("Attention U-Net: encoder " + encoder->encoder_name() + " has depth " +
                      std::to_string(encoder->depth()) + " but decoder_channels " + list(decoder_channels) +
                      " has " + std::to_string(decoder_channels.size()) + " entries: give one per encoder stage");
  for (auto c : decoder_channels)
    if (c < 1) throw core::Error("Attention U-Net: decoder_channels " + list(decoder_channels) + " must all be >= 1");
  encoder_ = register_module("encoder", std::move(encoder));
  UNetDecoderOptions o;
  o.attention = options.attention;
  o.gates = true;
  decoder_ = register_module("decoder", UNetDecoder(encoder_->out_channels(), decoder_channels, o));
  heads_ = SegmentationHeads(*this, decoder_channels.back(), encoder_->out_channels().back(), options.classes,
                             options.aux_head, options.dropout);
}

AttentionUNetImpl::AttentionUNetImpl(int64_t in_channels, const std::vector<int64_t>& filters,
                                     const SegmentationOptions& options) {
  own_encoder_ = register_module("encoder", DoubleConvEncoder(in_channels, filters));
  UNetDecoderOptions o;
  o.attention = options.attention;
  o.gates = true;
  o.first_map_is_skip = true;
  // Block j outputs f_{L-2-j}: the filters reversed, without the deepest.
  const std::vector<int64_t> decoder_channels(filters.rbegin() + 1, filters.rend());
  decoder_ = register_module("decoder", UNetDecoder(filters, decoder_channels, o));
  heads_ = SegmentationHeads(*this, filters.front(), filters.back(), options.classes, options.aux_head,
                             options.dropout);
}

std::vector<torch::Tensor> AttentionUNetImpl::features(const torch::Tensor& x) {
  return encoder_ ? encoder_->features(x) : own_encoder_->forward(x);
}

torch::Tensor AttentionUNetImpl::forward(const torch::Tensor& x) {
  return heads_.segment(decoder_->forward(features(x)));
}

ModelOutput AttentionUNetImpl::forward_all(const torch::Tensor& x) {
  const auto f = features(x);
  return heads_.forward(decoder_->forward(f), f.back());
}

void AttentionUNetImpl::fold_batch_norm() {
  if (encoder_)
    encoder_->fold_batch_norm();
  else
    own_encoder_->fold_batch_norm();
  decoder_->fold_batch_norm();
}

}  // namespace ptx::models

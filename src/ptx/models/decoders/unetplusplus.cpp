#include "ptx/models/decoders/unetplusplus.h"

#include "ptx/core/error.h"
#include "ptx/models/registry.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

std::string key(int64_t k, int64_t l) { return "x_" + std::to_string(k) + "_" + std::to_string(l); }

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "(" + s + ")";
}

}  // namespace

std::vector<int64_t> default_unetplusplus_decoder_channels(int64_t depth) {
  const auto& d = default_unet_decoder_channels();
  if (depth < 1 || depth > static_cast<int64_t>(d.size()))
    throw core::Error("U-Net++: depth must be 1..5, got " + std::to_string(depth));
  return {d.end() - depth, d.end()};
}

UNetPlusPlusDecoderImpl::UNetPlusPlusDecoderImpl(const std::vector<int64_t>& encoder_channels,
                                                 const std::vector<int64_t>& decoder_channels,
                                                 const std::string& attention, bool with_center) {
  const int64_t D = static_cast<int64_t>(decoder_channels.size());
  if (D < 1 || static_cast<int64_t>(encoder_channels.size()) != D + 1)
    throw core::Error("U-Net++ decoder: " + std::to_string(encoder_channels.size()) + " encoder maps for " +
                      std::to_string(D) + " decoder blocks (need blocks + 1)");
  for (auto c : decoder_channels)
    if (c < 1) throw core::Error("U-Net++: decoder_channels " + list(decoder_channels) + " must all be >= 1");
  check_decoder_attention(attention);
  depth_ = D;
  // enc[0] is the deepest map; skip[l] = channels of the map block x_{*}_{l} outputs at.
  const std::vector<int64_t> enc(encoder_channels.rbegin(), encoder_channels.rend() - 1);
  std::vector<int64_t> in{enc[0]}, skip;
  in.insert(in.end(), decoder_channels.begin(), decoder_channels.end() - 1);
  skip.assign(enc.begin() + 1, enc.end());
  skip.push_back(0);

  if (with_center) center = register_module("center", DoubleConv(enc[0], enc[0]));
  blocks = register_module("blocks", nn::ModuleDict());
  const auto add = [&](int64_t k, int64_t l, int64_t in_ch, int64_t skip_ch, int64_t out_ch) {
    UNetDecoderBlock b(in_ch, skip_ch, out_ch, attention);
    blocks->update(std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>>{{key(k, l), b.ptr()}});
    blocks_.emplace(key(k, l), b);
  };
  for (int64_t l = 0; l < D - 1; ++l) {
    for (int64_t k = 0; k <= l; ++k) {
      if (k == 0)
        add(k, l, in[l], skip[l] * (l + 1), decoder_channels[l]);
      else
        add(k, l, skip[l - 1], skip[l] * (l + 1 - k), skip[l]);
    }
  }
  add(0, D - 1, in[D - 1], 0, decoder_channels[D - 1]);
  initialize_decoder(*this);
}

UNetDecoderBlock& UNetPlusPlusDecoderImpl::block(int64_t k, int64_t l) { return blocks_.at(key(k, l)); }

torch::Tensor UNetPlusPlusDecoderImpl::forward(const std::vector<torch::Tensor>& features) {
  const int64_t D = depth_;
  if (static_cast<int64_t>(features.size()) != D + 1)
    throw core::Error("U-Net++ decoder: got " + std::to_string(features.size()) + " feature maps, expected " +
                      std::to_string(D + 1));
  // f[0] is the deepest map, f[D - 1] the finest; features[0] (the input) only gives the last size.
  const std::vector<torch::Tensor> f(features.rbegin(), features.rend() - 1);
  std::map<std::string, torch::Tensor> x;
  for (int64_t l = 0; l < D - 1; ++l) {
    for (int64_t k = 0; k < D - 1 - l; ++k) {
      const auto& target = f[k + l + 1];
      if (l == 0) {
        x[key(k, k)] = block(k, k)->forward(f[k], target, target.sizes().slice(2));
      } else {
        const int64_t j = k + l;
        std::vector<torch::Tensor> cat;
        for (int64_t i = k + 1; i <= j; ++i) cat.push_back(x.at(key(i, j)));
        cat.push_back(target);
        x[key(k, j)] = block(k, j)->forward(x.at(key(k, j - 1)), torch::cat(cat, 1), target.sizes().slice(2));
      }
    }
  }
  const auto& last_in = D == 1 ? f[0] : x.at(key(0, D - 2));
  return block(0, D - 1)->forward(last_in, torch::Tensor(), features[0].sizes().slice(2));
}

void UNetPlusPlusDecoderImpl::fold_batch_norm() {
  if (center) center->fold_batch_norm();
  for (auto& [name, b] : blocks_) b->fold_batch_norm();
}

UNetPlusPlusImpl::UNetPlusPlusImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels,
                                   const SegmentationOptions& options) {
  if (!encoder) throw core::Error("U-Net++: no encoder given");
  if (static_cast<int64_t>(decoder_channels.size()) != encoder->depth())
    throw core::Error("U-Net++: encoder " + encoder->encoder_name() + " has depth " +
                      std::to_string(encoder->depth()) + " but decoder_channels " + list(decoder_channels) +
                      " has " + std::to_string(decoder_channels.size()) + " entries: give one per encoder stage");
  if (options.classes < 1)
    throw core::Error("U-Net++: classes must be >= 1, got " + std::to_string(options.classes));
  encoder_ = register_module("encoder", std::move(encoder));
  decoder_ = register_module("decoder", UNetPlusPlusDecoder(encoder_->out_channels(), decoder_channels,
                                                            options.attention,
                                                            uses_center_block(encoder_->encoder_name())));
  heads_ = SegmentationHeads(*this, decoder_channels.back(), encoder_->out_channels().back(), options.classes,
                             options.aux_head, options.dropout);
}

UNetPlusPlusImpl::UNetPlusPlusImpl(const std::string& encoder_name, int64_t classes, int64_t in_channels,
                                   int64_t depth)
    : UNetPlusPlusImpl(build_encoder(encoder_name, in_channels, depth), default_unetplusplus_decoder_channels(depth),
                       SegmentationOptions{classes}) {}

torch::Tensor UNetPlusPlusImpl::forward(const torch::Tensor& x) {
  return heads_.segment(decoder_->forward(encoder_->features(x)));
}

ModelOutput UNetPlusPlusImpl::forward_all(const torch::Tensor& x) {
  const auto features = encoder_->features(x);
  return heads_.forward(decoder_->forward(features), features.back());
}

void UNetPlusPlusImpl::fold_batch_norm() {
  encoder_->fold_batch_norm();
  decoder_->fold_batch_norm();
}

}  // namespace ptx::models

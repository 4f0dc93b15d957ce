// Attention U-Net (Oktay et al. 2018): a U-Net whose every skip connection passes through an
// additive attention gate (decoders/blocks.h, AttentionGate) driven by the decoder's upsampled
// features, so the decoder learns where in the skip to look. Two forms:
//
// On a registry encoder (the seeds used ResNet34): the smp-style U-Net of unet.h (decoder channels
// default 256, 128, 64, 32, 16) with block i = the U-Net DecoderBlock preceded by a gate:
//   h = nearest-upsample(x, skip's size); s = AttentionGate(skip, g = h); cat(h, s) -> conv1, conv2
// The last block has no skip (map 0 is the input) and so no gate: depth - 1 gates. No center
// block, whatever the encoder (segmentation_models' VGG rule is for its U-Net and U-Net++).
//
// Standalone (encoder "none"): its own contracting path of L levels with filters f_0 .. f_{L-1}
// (default 64, 128, 256, 512, 1024 as Oktay et al.; a light variant 16, 32, 64, 128, 256):
//   level 0 = DoubleConv(in_channels, f_0) at the input's resolution,
//   level i = MaxPool 2x2 then DoubleConv(f_{i-1}, f_i)                    (i = 1 .. L-1)
// with DoubleConv(a, b) = Sequential(Conv2dReLU(a, b), Conv2dReLU(b, b)) (3x3, no bias, BN, ReLU;
// names encoder.blocks.i.0.0.weight ...), and L - 1 gated decoder blocks, block j taking
// in = f_{L-1-j} (the deepest map for j = 0, else block j-1's output), skip = level L-2-j
// (f_{L-2-j} channels), out = f_{L-2-j}, so the last block ends at f_0 at the input's size.
// In a ModelSpec the filters are decoder_channels reversed (decoder_channels lists the deepest
// first, as for the U-Net: [1024, 512, 256, 128, 64] gives the default), encoder_depth = L.
//
// Parameters (no convolution before a batch norm has a bias; BN counts 2 per channel):
//   DoubleConv(a, b)           = 9ab + 2b + 9b^2 + 2b
//   Gate(skip S, gating G)     = GF + 2F + SF + 2F + F + 2,  F = max(1, S / 2)
//   DecoderBlock(in, S, out)   = 9(in + S)out + 2out + 9out^2 + 2out
//   segmentation head (3x3)    = 9 c classes + classes    (c = the last block's channels)
//   auxiliary head             = C classes + classes      (C = the deepest map's channels)
// Standalone total = sum_i DoubleConv(f_{i-1}, f_i) (f_{-1} = in_channels) + sum_j [Gate(f_{L-2-j},
// in_j) + DecoderBlock(in_j, f_{L-2-j}, f_{L-2-j})] + head; on an encoder: the encoder's
// parameters + the U-Net decoder's + one gate per block with a skip + head.
// Both forms: optional scSE attention in the decoder blocks (attention1 after the concatenation,
// attention2 after conv2, as the U-Net) and the auxiliary classification head on the deepest map.
// Any input size works (every upsampling goes to its skip's size); sizes divisible by 2^(L-1)
// (standalone) or 32 (depth-5 encoders) avoid the rounding of odd sizes in pooling.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/decoders/unet.h"

namespace ptx::models {

// 64, 128, 256, 512, 1024: Oktay et al.'s widths (standalone filters, finest first).
inline const std::vector<int64_t>& default_attention_unet_filters() {
  static const std::vector<int64_t> filters{64, 128, 256, 512, 1024};
  return filters;
}

// The standalone contracting path: L DoubleConv levels, max pooling between them. forward
// returns the L maps, finest (input resolution, f_0 channels) first.
class DoubleConvEncoderImpl : public torch::nn::Module {
 public:
  DoubleConvEncoderImpl(int64_t in_channels, const std::vector<int64_t>& filters);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);
  void fold_batch_norm();
  const std::vector<int64_t>& filters() const { return filters_; }

 private:
  std::vector<int64_t> filters_;
  torch::nn::ModuleList blocks{nullptr};
  std::vector<DoubleConv> levels_;
};
TORCH_MODULE(DoubleConvEncoder);

class AttentionUNetImpl : public ModelImpl {
 public:
  // On a registry encoder; decoder_channels needs encoder->depth() entries.
  AttentionUNetImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels, const SegmentationOptions& options = {});
  // Standalone: filters finest first (2 to 5 levels, e.g. default_attention_unet_filters()).
  AttentionUNetImpl(int64_t in_channels, const std::vector<int64_t>& filters, const SegmentationOptions& options = {});

  torch::Tensor forward(const torch::Tensor& x) override;
  ModelOutput forward_all(const torch::Tensor& x) override;
  void fold_batch_norm() override;

  bool standalone() const { return !encoder_; }
  EncoderPtr encoder() const { return encoder_; }            // null when standalone
  DoubleConvEncoder own_encoder() const { return own_encoder_; }  // null unless standalone
  UNetDecoder decoder() const { return decoder_; }
  torch::nn::Sequential segmentation_head() const { return heads_.segmentation; }
  torch::nn::Sequential classification_head() const { return heads_.classification; }

 private:
  std::vector<torch::Tensor> features(const torch::Tensor& x);
  EncoderPtr encoder_;
  DoubleConvEncoder own_encoder_{nullptr};
  UNetDecoder decoder_{nullptr};
  SegmentationHeads heads_;
};
TORCH_MODULE(AttentionUNet);

}  // namespace ptx::models

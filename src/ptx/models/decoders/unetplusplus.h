// U-Net++ (Zhou et al. 2018) as segmentation_models.pytorch defines it (UnetPlusPlusDecoder):
// nested, densely connected skip pathways between an encoder and the U-Net decoder blocks, the
// same segmentation head (3x3 conv) and optional auxiliary classification head as the U-Net.
//
// With the encoder maps (finest to deepest, the input left out) reversed to f_0 (deepest) ...
// f_{D-1} (D = encoder depth), decoder channels d_0 ... d_{D-1}, s_l = channels of f_{l+1}:
//   block x_{0}_{l} (l < D-1): in d_{l-1} (f_0's channels for l = 0), skip (l+1) s_l, out d_l
//   block x_{k}_{l} (1 <= k <= l < D-1): in s_{l-1}, skip (l+1-k) s_l, out s_l
//   block x_{0}_{D-1}: in d_{D-2}, no skip, out d_{D-1} (upsamples to the input's size)
// Every block is a U-Net DecoderBlock (upsample to its skip's size, concatenate, Conv2dReLU x2,
// with scSE attention1/attention2 when asked). Forward, for l = 0 .. D-2 and k = 0 .. D-2-l:
//   x_{k}_{k} = block(f_k, skip f_{k+1})                                          (l = 0)
//   x_{k}_{k+l} = block(x_{k}_{k+l-1}, skip cat(x_{k+1}_{k+l}, ..., x_{k+l}_{k+l}, f_{k+l+1}))
// and the output is x_{0}_{D-1} = block(x_{0}_{D-2}). Module names follow segmentation_models
// (decoder.blocks.x_0_0.conv1.0.weight, ...), so its checkpoints load name for name.
// As in segmentation_models, VGG encoders get a decoder.center block that the forward pass does
// not use (segmentation_models registers it but never calls it); it is kept so that checkpoints
// load strictly, and gets no gradient.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ptx/models/decoders/unet.h"

namespace ptx::models {

// segmentation_models' rule for U-Net++: the last `depth` entries of (256, 128, 64, 32, 16).
std::vector<int64_t> default_unetplusplus_decoder_channels(int64_t depth);

class UNetPlusPlusDecoderImpl : public torch::nn::Module {
 public:
  // encoder_channels: the encoder's out_channels() (depth + 1 entries, the input's first);
  // decoder_channels: one per encoder stage.
  UNetPlusPlusDecoderImpl(const std::vector<int64_t>& encoder_channels,
                          const std::vector<int64_t>& decoder_channels, const std::string& attention = "none",
                          bool center = false);
  torch::Tensor forward(const std::vector<torch::Tensor>& features);
  void fold_batch_norm();
  // "x_{k}_{l}" -> block, for inspection.
  const std::map<std::string, UNetDecoderBlock>& decoder_blocks() const { return blocks_; }

 private:
  UNetDecoderBlock& block(int64_t k, int64_t l);
  int64_t depth_ = 0;  // encoder depth D
  DoubleConv center{nullptr};
  torch::nn::ModuleDict blocks{nullptr};
  std::map<std::string, UNetDecoderBlock> blocks_;
};
TORCH_MODULE(UNetPlusPlusDecoder);

class UNetPlusPlusImpl : public ModelImpl {
 public:
  // decoder_channels needs encoder->depth() entries.
  UNetPlusPlusImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels, const SegmentationOptions& options = {});
  // By registry encoder name, with segmentation_models' default decoder channels.
  explicit UNetPlusPlusImpl(const std::string& encoder_name, int64_t classes = 1, int64_t in_channels = 3,
                            int64_t depth = 5);

  // N x classes x H x W logits; any H and W (each upsampling goes to its skip's size).
  torch::Tensor forward(const torch::Tensor& x) override;
  ModelOutput forward_all(const torch::Tensor& x) override;
  void fold_batch_norm() override;

  EncoderPtr encoder() const { return encoder_; }
  UNetPlusPlusDecoder decoder() const { return decoder_; }
  torch::nn::Sequential segmentation_head() const { return heads_.segmentation; }
  torch::nn::Sequential classification_head() const { return heads_.classification; }

 private:
  EncoderPtr encoder_;
  UNetPlusPlusDecoder decoder_{nullptr};
  SegmentationHeads heads_;
};
TORCH_MODULE(UNetPlusPlus);

}  // namespace ptx::models

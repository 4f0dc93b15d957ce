// U-Net with the segmentation_models.pytorch conventions: an encoder, a decoder of one block per
// encoder stage (nearest upsampling to the skip's size, concatenation of the skip, then twice
// conv 3x3 without bias + batch norm + ReLU), and a 3x3 convolution (with bias) to the classes.
// Module names follow segmentation_models (encoder.*, decoder.blocks.0.conv1.0.weight,
// segmentation_head.0.weight), so its checkpoints map onto this model name for name.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"
#include "ptx/models/model.h"

namespace ptx::models {

// segmentation_models' default decoder channels; a U-Net of encoder depth d uses the first d.
inline const std::vector<int64_t>& default_unet_decoder_channels() {
  static const std::vector<int64_t> channels{256, 128, 64, 32, 16};
  return channels;
}

// One decoder stage: upsample x to `size`, concatenate the skip (if any), conv1, conv2; each conv
// is a Sequential(Conv2d 3x3 no bias, BatchNorm2d, ReLU), as segmentation_models' Conv2dReLU.
class UNetDecoderBlockImpl : public torch::nn::Module {
 public:
  UNetDecoderBlockImpl(int64_t in_channels, int64_t skip_channels, int64_t out_channels);
  // skip may be undefined (the last block, which has no skip); size is the output's H and W.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip, torch::IntArrayRef size);
  void fold_batch_norm();  // conv1 and conv2 become Sequential(Conv2d with bias, ReLU)

 private:
  torch::nn::Sequential conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(UNetDecoderBlock);

class UNetDecoderImpl : public torch::nn::Module {
 public:
  // encoder_channels: the encoder's out_channels() (depth + 1 entries, the input's first);
  // decoder_channels: one entry per block, as many as the encoder's depth.
  UNetDecoderImpl(const std::vector<int64_t>& encoder_channels,
                  const std::vector<int64_t>& decoder_channels);
  // features: the encoder's features(x). Returns the last block's output, at the input's size.
  torch::Tensor forward(const std::vector<torch::Tensor>& features);
  void fold_batch_norm();

 private:
  torch::nn::ModuleList blocks{nullptr};
  std::vector<UNetDecoderBlock> blocks_;
};
TORCH_MODULE(UNetDecoder);

class UNetImpl : public ModelImpl {
 public:
  // Builds the encoder by registry name (see registry.h); its depth is decoder_channels.size().
  UNetImpl(const std::string& encoder_name, int64_t classes = 1, int64_t in_channels = 3,
           std::vector<int64_t> decoder_channels = default_unet_decoder_channels());
  // Any encoder (built without a classifier head); decoder_channels needs encoder->depth() entries.
  UNetImpl(EncoderPtr encoder, int64_t classes, std::vector<int64_t> decoder_channels);

  // N x classes x H x W logits for an N x in_channels x H x W input. Any H and W work: every
  // upsampling goes to the size of the map it is concatenated with, the last one to the input's.
  torch::Tensor forward(const torch::Tensor& x) override;
  void fold_batch_norm() override;

  // Shared handles to the parts (for inspection, freezing the encoder, weight import).
  EncoderPtr encoder() const { return encoder_; }
  UNetDecoder decoder() const { return decoder_; }
  torch::nn::Sequential segmentation_head() const { return head_; }

 private:
  EncoderPtr encoder_;
  UNetDecoder decoder_{nullptr};
  torch::nn::Sequential head_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace ptx::models

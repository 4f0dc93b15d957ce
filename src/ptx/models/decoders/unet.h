// U-Net with the segmentation_models.pytorch conventions: an encoder, a decoder of one block per
// encoder stage (nearest upsampling to the skip's size, concatenation of the skip, then twice
// conv 3x3 without bias + batch norm + ReLU), and a 3x3 convolution (with bias) to the classes.
// Options as segmentation_models: scSE attention in the decoder blocks (attention1 on the
// concatenation, attention2 after conv2), a center block (two Conv2dReLU on the deepest map) for
// VGG encoders, and an auxiliary classification head on the deepest encoder map.
// Module names follow segmentation_models (encoder.*, decoder.center.0.0.weight,
// decoder.blocks.0.conv1.0.weight, decoder.blocks.0.attention1.attention.cSE.1.weight,
// segmentation_head.0.weight, classification_head.3.weight), so its checkpoints map onto this
// model name for name.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/decoders/blocks.h"
#include "ptx/models/encoders/encoder.h"
#include "ptx/models/heads/heads.h"
#include "ptx/models/model.h"

namespace ptx::models {

// segmentation_models' default decoder channels; a U-Net of encoder depth d uses the first d.
inline const std::vector<int64_t>& default_unet_decoder_channels() {
  static const std::vector<int64_t> channels{256, 128, 64, 32, 16};
  return channels;
}

// One decoder stage (segmentation_models' DecoderBlock): upsample x to `size`, and when there is
// a skip: gate it (Attention U-Net only), concatenate it, attention1; then conv1, conv2,
// attention2. Each conv is a Conv2dReLU; attention1/2 exist only for attention "scse".
// As in segmentation_models, a block without a skip still registers attention1 (on its input
// channels) but does not use it, so checkpoints load name for name; it gets no gradient.
class UNetDecoderBlockImpl : public torch::nn::Module {
 public:
  // gated: an AttentionGate(skip_channels, in_channels) named attention_gate, applied to the skip
  // with the upsampled x as gating signal (needs skip_channels > 0).
  UNetDecoderBlockImpl(int64_t in_channels, int64_t skip_channels, int64_t out_channels,
                       const std::string& attention = "none", bool gated = false);
  // skip may be undefined (a block without a skip); size is the output's H and W.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip, torch::IntArrayRef size);
  void fold_batch_norm();  // conv1 and conv2 become Sequential(Conv2d with bias, ReLU)
  AttentionGate gate() const { return gate_; }  // null unless gated

 private:
  torch::nn::Sequential conv1{nullptr}, conv2{nullptr};
  DecoderAttention attention1{nullptr}, attention2{nullptr};
  AttentionGate gate_{nullptr};
};
TORCH_MODULE(UNetDecoderBlock);

struct UNetDecoderOptions {
  std::string attention = "none";  // "scse": attention1/attention2 in every block
  bool center = false;             // a center block on the deepest map (decoder.center)
  bool gates = false;              // an attention gate on every skip (Attention U-Net)
  // The first map is a learnt feature map to concatenate, not the input image: then every block
  // has a skip (the standalone Attention U-Net's encoder), else the last block has none.
  bool first_map_is_skip = false;
};

class UNetDecoderImpl : public torch::nn::Module {
 public:
  // encoder_channels: the encoder's out_channels() (depth + 1 entries, the input's first);
  // decoder_channels: one entry per block, as many as the encoder's depth.
  UNetDecoderImpl(const std::vector<int64_t>& encoder_channels, const std::vector<int64_t>& decoder_channels,
                  const UNetDecoderOptions& options = {});
  // features: the encoder's features(x). Returns the last block's output, at the size of
  // features[0] (the input's). Taken by value: each map is dropped as soon as the block that uses
  // it is done, so a caller that moves the maps in holds only those still needed (at 1024 px the
  // 512-px map alone is 64 MiB, and the decoder's largest blocks come after it).
  torch::Tensor forward(std::vector<torch::Tensor> features);
  void fold_batch_norm();
  const std::vector<UNetDecoderBlock>& decoder_blocks() const { return blocks_; }

 private:
  DoubleConv center{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  std::vector<UNetDecoderBlock> blocks_;
  std::vector<bool> has_skip_;
};
TORCH_MODULE(UNetDecoder);

class UNetImpl : public ModelImpl {
 public:
  // Builds the encoder by registry name (see registry.h); its depth is decoder_channels.size().
  UNetImpl(const std::string& encoder_name, int64_t classes = 1, int64_t in_channels = 3,
           std::vector<int64_t> decoder_channels = default_unet_decoder_channels());
  // Any encoder (built without a classifier head); decoder_channels needs encoder->depth() entries.
  UNetImpl(EncoderPtr encoder, int64_t classes, std::vector<int64_t> decoder_channels);
  // With scSE attention and/or the auxiliary head. A center block is added when the encoder's
  // name starts with "vgg" (uses_center_block), as segmentation_models does.
  UNetImpl(EncoderPtr encoder, std::vector<int64_t> decoder_channels, const SegmentationOptions& options);

  // N x classes x H x W logits for an N x in_channels x H x W input. Any H and W work: every
  // upsampling goes to the size of the map it is concatenated with, the last one to the input's.
  torch::Tensor forward(const torch::Tensor& x) override;
  // forward's logits and, with aux_head, the N x classes auxiliary logits.
  ModelOutput forward_all(const torch::Tensor& x) override;
  void fold_batch_norm() override;

  // Shared handles to the parts (for inspection, freezing the encoder, weight import).
  EncoderPtr encoder() const { return encoder_; }
  UNetDecoder decoder() const { return decoder_; }
  torch::nn::Sequential segmentation_head() const { return heads_.segmentation; }
  torch::nn::Sequential classification_head() const { return heads_.classification; }  // null without aux_head

 private:
  EncoderPtr encoder_;
  UNetDecoder decoder_{nullptr};
  SegmentationHeads heads_;
};
TORCH_MODULE(UNet);

}  // namespace ptx::models

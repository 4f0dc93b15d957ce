// VGG16 and VGG16-BN exactly as torchvision defines them, with its module names (features.N in
// torchvision's order of conv / [batch norm] / ReLU / max pool, classifier.0, classifier.3,
// classifier.6), so a torchvision or segmentation_models vgg16(_bn) state_dict maps onto it name
// for name (segmentation_models prefixes "encoder."). As in torchvision every convolution has a
// bias, also those followed by batch norm in vgg16_bn.
//
// What features() returns differs from the other encoders (it follows segmentation_models'
// VGGEncoder, whose stages split `features` before each max pool): map 0 is NOT the input but
// the first stage's output, and the last map is only a max pool of the one before. For vgg16:
//   0: conv 64, conv 64                          64 channels, stride 1 (input resolution)
//   1: pool, conv 128 x 2                        128, stride 2
//   2: pool, conv 256 x 3                        256, stride 4
//   3: pool, conv 512 x 3                        512, stride 8
//   4: pool, conv 512 x 3                        512, stride 16
//   5: pool                                      512, stride 32
// cut to depth + 1 maps (out_channels() = 64, 128, 256, 512, 512, 512, cut alike). A U-Net drops
// map 0 as it drops the input of other encoders (it only gives the output size), so its finest
// skip is map 1. segmentation_models' U-Net adds a `center` block (two conv-BN-ReLU at 512
// channels on map 5, which is a bare max pool of map 4) for VGG encoders only; that block belongs
// to the decoder, not here.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"

namespace ptx::models {

struct VGGOptions {
  std::string name;             // "vgg16", "vgg16_bn"
  std::vector<int64_t> config;  // torchvision's cfg: conv widths, 0 for a max pool ("M")
  bool batch_norm = false;      // conv, BatchNorm2d, ReLU instead of conv, ReLU
  int64_t in_channels = 3;      // channels of the input image (any >= 1)
  int64_t depth = 5;            // maps features() returns minus 1 (1..5); deeper layers are not built
  int64_t num_classes = 0;      // 0: segmentation encoder, no classifier; > 0: torchvision's
  double dropout = 0.5;         // classifier: p of both of torchvision's Dropout layers

  // "vgg16", "vgg16_bn". Throws ptx::core::Error listing them otherwise.
  static VGGOptions named(const std::string& name);
  static std::vector<std::string> names();
};

class VGGImpl : public EncoderImpl {
 public:
  explicit VGGImpl(const VGGOptions& options);

  // See the top of this file: depth + 1 maps, the first at the input's resolution with 64
  // channels (not the input itself).
  std::vector<torch::Tensor> features(const torch::Tensor& x) override;
  // 64, 128, 256, 512, 512, 512 cut to depth + 1: unlike other encoders the first is not
  // in_channels.
  std::vector<int64_t> out_channels() const override;
  std::string encoder_name() const override { return options_.name; }
  // Classifier: features, adaptive average pool to 7 x 7, flatten, then torchvision's
  // classifier: Linear(25088, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout,
  // Linear(4096, num_classes).
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor classifier_map(const torch::Tensor& x) override;
  torch::Tensor classify_map(const torch::Tensor& map) override;
  // vgg16_bn: folds each batch norm into the convolution before it (the later features.N
  // indices shift down as the batch norms leave the Sequential). vgg16 has none: no-op.
  void fold_batch_norm() override;

  const VGGOptions& options() const { return options_; }

 private:
  VGGOptions options_;
  torch::nn::Sequential features_{nullptr};    // registered as "features"
  torch::nn::Sequential classifier{nullptr};  // registered only for a classifier
};
TORCH_MODULE(VGG);

}  // namespace ptx::models

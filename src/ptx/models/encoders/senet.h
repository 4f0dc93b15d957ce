// SE-ResNeXt 50/101 (32x4d) exactly as Cadene's pretrainedmodels defines them (the networks the
// SIIM-ACR first-place U-Net used as encoder), with its module names (layer0.conv1, layer0.bn1,
// layer1.0.conv1, layer1.0.se_module.fc1, layer1.0.downsample.0, ..., last_linear), so a Cadene or
// segmentation_models se_resnext50_32x4d state_dict maps onto it name for name
// (segmentation_models prefixes "encoder.").
//
// Cadene's se_resnext configuration: a 7x7 stride-2 stem (layer0: conv1, bn1, relu1, and a 3x3
// stride-2 max pool with ceil_mode, no padding), 1x1 downsample projections, no dropout, and no
// initialisation of its own (PyTorch's default, which LibTorch's modules share).
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"

namespace ptx::models {

struct SENetOptions {
  std::string name;                 // "se_resnext50_32x4d", ...
  std::array<int64_t, 4> layers{};  // blocks per stage
  int64_t groups = 32;              // cardinality of the grouped 3x3 convolution
  int64_t base_width = 4;           // width per group at planes 64
  int64_t reduction = 16;           // squeeze-and-excitation bottleneck ratio
  int64_t in_channels = 3;          // channels of the input image (any >= 1)
  int64_t depth = 5;                // stages features() returns (1..5); deeper stages are not built
  int64_t num_classes = 0;          // 0: segmentation encoder, no last_linear; > 0: Cadene's classifier
  double dropout = 0.0;             // classifier: dropout before last_linear in training (Cadene: none)

  // "se_resnext50_32x4d", "se_resnext101_32x4d". Throws ptx::core::Error listing them otherwise.
  static SENetOptions named(const std::string& name);
  static std::vector<std::string> names();
};

// Cadene's SEModule: x * sigmoid(fc2(relu(fc1(global_avg_pool(x))))), fc1 and fc2 being 1x1
// convolutions with bias (channels -> channels / reduction -> channels).
class SEModuleImpl : public torch::nn::Module {
 public:
  SEModuleImpl(int64_t channels, int64_t reduction);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SEModule);

// Cadene's SEResNeXtBottleneck: 1x1 reduce to width = floor(planes * base_width / 64) * groups,
// grouped 3x3 (strided), 1x1 expand to planes * 4, squeeze-and-excitation, then the residual sum.
class SEResNeXtBottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  SEResNeXtBottleneckImpl(int64_t in_planes, int64_t planes, int64_t groups, int64_t base_width,
                          int64_t reduction, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  void fold_batch_norm();  // see ModelImpl::fold_batch_norm

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  SEModule se_module{nullptr};
  torch::nn::Sequential downsample{nullptr};  // 1x1 conv + BN when the shape changes, else absent
};
TORCH_MODULE(SEResNeXtBottleneck);

// Cadene's layer0 for the se_resnext models: conv1 (7x7, stride 2), bn1, relu1, then pool.
class SENetStemImpl : public torch::nn::Module {
 public:
  explicit SENetStemImpl(int64_t in_channels, int64_t planes = 64);
  // relu(bn1(conv1(x))): the stride-2 map, before the pool.
  torch::Tensor forward(const torch::Tensor& x);
  // Cadene's pool: max pool 3x3, stride 2, ceil_mode (no padding).
  torch::Tensor pool(const torch::Tensor& x) const;
  void fold_batch_norm();

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
};
TORCH_MODULE(SENetStem);

class SENetImpl : public EncoderImpl {
 public:
  explicit SENetImpl(const SENetOptions& options);

  // As segmentation_models' SENetEncoder: [x, relu(bn1(conv1(x))) (64 channels, stride 2),
  // layer1(pool(..)) (256, stride 4), layer2 (512, 8), layer3 (1024, 16), layer4 (2048, 32)],
  // cut to depth + 1. (Input sides that are multiples of 32 halve exactly at each stage; for
  // others, Cadene's pool takes a stem side s to ceil((s - 3) / 2) + 1: 35 to 17, where
  // torchvision's padded pool gives 18.)
  std::vector<torch::Tensor> features(const torch::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;
  std::string encoder_name() const override { return options_.name; }
  // Classifier: global average pool + dropout + last_linear (requires num_classes > 0, depth 5).
  // Cadene pools with AvgPool2d(7, stride=1), which is this global average for its 224 x 224
  // inputs (a 7 x 7 final map) and fails for most other sizes; global pooling takes any size.
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor classifier_map(const torch::Tensor& x) override;
  torch::Tensor classify_map(const torch::Tensor& map) override;
  // Folds every batch norm (each follows a convolution); the SE modules' convolutions have none.
  void fold_batch_norm() override;

  const SENetOptions& options() const { return options_; }

 private:
  SENetOptions options_;
  SENetStem layer0{nullptr};
  std::vector<torch::nn::Sequential> layers_;  // registered as layer1..layer4
  torch::nn::Linear last_linear{nullptr};      // registered only for a classifier
};
TORCH_MODULE(SENet);

}  // namespace ptx::models

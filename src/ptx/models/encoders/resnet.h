// ResNet 18/34/50/101 exactly as torchvision defines them (v1.5: in a Bottleneck the stride is on
// the 3x3 convolution), with torchvision's module names (conv1, bn1, layer1.0.conv1,
// layer1.0.downsample.0, ..., fc), so a torchvision or segmentation_models state_dict maps onto it
// name for name (segmentation_models prefixes "encoder.").
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"

namespace ptx::models {

struct ResNetOptions {
  enum class Block { basic, bottleneck };

  std::string name;                  // "resnet34", ...
  Block block = Block::basic;
  std::array<int64_t, 4> layers{};   // blocks per stage
  int64_t in_channels = 3;           // channels of the input image (1 or 3 usually; any >= 1)
  int64_t depth = 5;                 // stages features() returns (1..5); deeper stages are not built
  int64_t num_classes = 0;           // 0: segmentation encoder, no fc; > 0: torchvision classifier
  double dropout = 0.0;              // classifier: dropout before fc in training (torchvision: 0)

  // The standard configurations: "resnet18", "resnet34", "resnet50", "resnet101". Throws
  // ptx::core::Error listing them for any other name.
  static ResNetOptions named(const std::string& name);
  static std::vector<std::string> names();
};

// torchvision's BasicBlock: two 3x3 convolutions, the first one strided.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  void fold_batch_norm();  // see ModelImpl::fold_batch_norm

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // 1x1 conv + BN when shape changes, else absent
  // After fold_batch_norm() the batch norms are empty holders and no longer registered.
};
TORCH_MODULE(BasicBlock);

// torchvision's Bottleneck (ResNet v1.5): 1x1 reduce, 3x3 (strided), 1x1 expand (x4).
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  void fold_batch_norm();

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public EncoderImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options);

  // [x, relu(bn1(conv1(x))), layer1(maxpool(..)), layer2, layer3, layer4], cut to depth + 1.
  std::vector<torch::Tensor> features(const torch::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;
  std::string encoder_name() const override { return options_.name; }
  // Classifier: global average pool + dropout + fc (requires num_classes > 0 and depth 5).
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor classifier_map(const torch::Tensor& x) override;
  torch::Tensor classify_map(const torch::Tensor& map) override;
  void fold_batch_norm() override;

  const ResNetOptions& options() const { return options_; }

 private:
  ResNetOptions options_;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};
  std::vector<torch::nn::Sequential> layers_;  // registered as layer1..layer4
  torch::nn::Linear fc{nullptr};               // registered only for a classifier
};
TORCH_MODULE(ResNet);

}  // namespace ptx::models

// DenseNet 121/169 exactly as torchvision (0.14) defines them, with its module names
// (features.conv0, features.norm0, features.denseblock1.denselayer1.norm1 / conv1 / norm2 / conv2,
// features.transition1.norm / conv, features.norm5, classifier), so a torchvision or
// segmentation_models densenet state_dict maps onto it name for name (segmentation_models
// prefixes "encoder."). These are the names of torchvision's module tree (its state_dict()); its
// downloadable ImageNet weight files still use the old ones inside dense layers
// ("denselayer1.norm.1.weight", which torchvision renames with a regex on load) and need the
// same renaming before import.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ptx/models/encoders/encoder.h"

namespace ptx::models {

struct DenseNetOptions {
  std::string name;                       // "densenet121", ...
  int64_t growth_rate = 32;               // channels each dense layer adds
  std::array<int64_t, 4> block_config{};  // dense layers per block
  int64_t num_init_features = 64;         // channels of the stem
  int64_t bn_size = 4;                    // bottleneck width: bn_size * growth_rate
  double drop_rate = 0.0;                 // dropout after each dense layer in training (torchvision: 0)
  int64_t in_channels = 3;                // channels of the input image (any >= 1)
  int64_t depth = 5;                      // stages features() returns (1..5); deeper ones are not built
  int64_t num_classes = 0;                // 0: segmentation encoder, no classifier; > 0: torchvision's
  double dropout = 0.0;                   // classifier: dropout before `classifier` (torchvision: none)

  // "densenet121", "densenet169". Throws ptx::core::Error listing them otherwise.
  static DenseNetOptions named(const std::string& name);
  static std::vector<std::string> names();
};

// torchvision's _DenseLayer: conv2(relu(norm2(conv1(relu(norm1(cat(inputs)))))))), growth_rate
// new channels. norm1 acts on the concatenation before a ReLU (pre-activation) and cannot be
// folded; norm2 directly follows conv1 and is folded into it by fold_batch_norm().
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in_features, int64_t growth_rate, int64_t bn_size, double drop_rate);
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs);
  void fold_batch_norm();

 private:
  torch::nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  double drop_rate_;
};
TORCH_MODULE(DenseLayer);

// torchvision's _DenseBlock: denselayer1..N, each fed the block input and every earlier layer's
// output; returns their concatenation (in_features + N * growth_rate channels).
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t num_layers, int64_t in_features, int64_t growth_rate, int64_t bn_size,
                 double drop_rate);
  torch::Tensor forward(const torch::Tensor& x);
  void fold_batch_norm();

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

// torchvision's _Transition: norm, relu, conv 1x1 (halving the channels), avg pool 2x2.
// Built without conv (with_conv false) when only its skip map is needed: the last stage of a
// shallow encoder.
class TransitionImpl : public torch::nn::Module {
 public:
  TransitionImpl(int64_t in_features, int64_t out_features, bool with_conv = true);
  // {pool(conv(s)), s} with s = relu(norm(x)), the map segmentation_models' TransitionWithSkip
  // takes as skip (after the ReLU, before the convolution and the pooling). Without conv the
  // first element is undefined.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d norm{nullptr};
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Transition);

class DenseNetImpl : public EncoderImpl {
 public:
  explicit DenseNetImpl(const DenseNetOptions& options);

  // As segmentation_models' DenseNetEncoder, cut to depth + 1 maps:
  //   0: x
  //   1: relu0(norm0(conv0(x)))                        num_init_features (64), stride 2
  //   2: transition1's relu(norm(denseblock1(pool0(.))))   256 for 121/169,      stride 4
  //   3: transition2's relu(norm(denseblock2(.)))           512,                  stride 8
  //   4: transition3's relu(norm(denseblock3(.)))           1024 (121) / 1280 (169), stride 16
  //   5: norm5(denseblock4(.)), no ReLU                     1024 (121) / 1664 (169), stride 32
  // Maps 2..4 are taken before the transition's convolution and pooling, so they have the dense
  // block's full width at the block's resolution.
  std::vector<torch::Tensor> features(const torch::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;
  std::string encoder_name() const override { return options_.name; }
  // Classifier: relu(features.norm5(..)), global average pool, dropout, classifier.
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor classifier_map(const torch::Tensor& x) override;
  torch::Tensor classify_map(const torch::Tensor& map) override;
  // Folds norm0 into conv0 and each dense layer's norm2 into its conv1. The other batch norms
  // (each dense layer's norm1, each transition's norm, norm5) act before a ReLU on a
  // concatenation, not right after a convolution, and stay as they are.
  void fold_batch_norm() override;

  const DenseNetOptions& options() const { return options_; }

 private:
  DenseNetOptions options_;
  std::shared_ptr<torch::nn::Module> features_;  // registered as "features", as torchvision's Sequential
  torch::nn::Conv2d conv0{nullptr};
  torch::nn::BatchNorm2d norm0{nullptr}, norm5{nullptr};
  std::vector<DenseBlock> blocks_;        // features.denseblock1..
  std::vector<Transition> transitions_;   // features.transition1..
  torch::nn::Linear classifier{nullptr};  // registered only for a classifier
};
TORCH_MODULE(DenseNet);

}  // namespace ptx::models

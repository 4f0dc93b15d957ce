// EfficientNet B0..B4 (v1) exactly as torchvision 0.14 defines them, with torchvision's module
// names (features.0.0 the stem convolution, features.{1..7}.{i}.block.{j} the MBConv blocks,
// features.8 the head convolution, classifier.1 the linear layer), so
// torchvision.models.efficientnet_bN().state_dict() maps onto it name for name.
//
// As a segmentation encoder (num_classes 0) it follows segmentation_models' timm-efficientnet
// encoders: features(x) returns x, the stem's output (stride 2) and the ends of the stages at
// strides 4, 8, 16 and 32 (torchvision's features.2, .3, .5 and .7); the head convolution
// (features.8) and the classifier are not built.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"

namespace ptx::models {

struct EfficientNetOptions {
  std::string name;                    // "efficientnet_b0", ...
  double width_mult = 1.0;             // channel multiplier (rounded to multiples of 8)
  double depth_mult = 1.0;             // blocks per stage: ceil(base * depth_mult)
  double dropout = 0.2;                // classifier: dropout before the linear layer in training
  double stochastic_depth_prob = 0.2;  // of the last block; block k of n drops with 0.2 * k / n
  int64_t in_channels = 3;             // channels of the input image (any >= 1)
  int64_t depth = 5;                   // maps features() returns after the input (1..5)
  int64_t num_classes = 0;             // 0: segmentation encoder; > 0: torchvision classifier

  // The standard configurations "efficientnet_b0" .. "efficientnet_b4" (torchvision's width and
  // depth multipliers and dropout). Throws ptx::core::Error listing them for any other name.
  static EfficientNetOptions named(const std::string& name);
  static std::vector<std::string> names();
};

// torchvision's Conv2dNormActivation: children "0" (Conv2d without bias, padding (k - 1) / 2),
// "1" (BatchNorm2d, eps 1e-5, momentum 0.1), then SiLU (in place; no parameters) when `silu`.
class ConvNormActivationImpl : public torch::nn::Module {
 public:
  ConvNormActivationImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1,
                         bool silu = true);
  torch::Tensor forward(const torch::Tensor& x);
  // Folds "1" into "0" (which gains a bias) and unregisters "1"; idempotent.
  void fold_batch_norm();

 private:
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};  // empty after folding
  bool silu_;
};
TORCH_MODULE(ConvNormActivation);

// torchvision.ops.SqueezeExcitation with SiLU: x * sigmoid(fc2(silu(fc1(mean_hw(x))))), fc1 and
// fc2 1x1 convolutions with bias.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels);
  // Scales x in place when no gradient is recorded (x must then be a temporary of the caller).
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

// torchvision's MBConv: block = [expand 1x1 (when expand_ratio != 1)], depthwise k x k (strided),
// squeeze-excitation (squeeze channels max(1, in / 4)), project 1x1 (no activation); with the
// residual connection (stride 1 and in == out) the block's output goes through row-mode
// stochastic depth (training only) before the input is added.
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(int64_t in, int64_t out, int64_t expand_ratio, int64_t kernel, int64_t stride,
             double stochastic_depth_prob);
  torch::Tensor forward(const torch::Tensor& x);
  void fold_batch_norm();
  bool residual() const { return residual_; }
  double stochastic_depth_prob() const { return stochastic_depth_prob_; }

 private:
  torch::nn::ModuleList block{nullptr};  // "block": torchvision's Sequential (same names), called
                                         // through the typed holders below
  ConvNormActivation expand{nullptr};     // absent when expand_ratio == 1
  ConvNormActivation depthwise{nullptr}, project{nullptr};
  SqueezeExcitation se{nullptr};
  bool residual_;
  double stochastic_depth_prob_;
};
TORCH_MODULE(MBConv);

class EfficientNetImpl : public EncoderImpl {
 public:
  explicit EfficientNetImpl(const EfficientNetOptions& options);

  // [x, stem, features.1-2, features.3, features.4-5, features.6-7], cut to depth + 1.
  std::vector<torch::Tensor> features(const torch::Tensor& x) override;
  std::vector<int64_t> out_channels() const override;
  std::string encoder_name() const override { return options_.name; }
  // Classifier: features.0..8, global average pool, dropout, linear (needs num_classes > 0).
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::Tensor classifier_map(const torch::Tensor& x) override;
  torch::Tensor classify_map(const torch::Tensor& map) override;
  void fold_batch_norm() override;

  const EfficientNetOptions& options() const { return options_; }

 private:
  EfficientNetOptions options_;
  torch::nn::ModuleList features_{nullptr};  // "features" (a Sequential in torchvision: same names)
  ConvNormActivation stem_{nullptr};          // features.0
  std::vector<std::vector<MBConv>> stages_;   // features.1 .. features.7 (those built)
  ConvNormActivation head_{nullptr};          // features.8, classifier only
  torch::nn::Sequential classifier_{nullptr};  // Dropout, Linear; classifier only
  torch::nn::Linear fc_{nullptr};              // classifier.1
  std::vector<int64_t> out_channels_;          // of features(), the input's first
};
TORCH_MODULE(EfficientNet);

}  // namespace ptx::models

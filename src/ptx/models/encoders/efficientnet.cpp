#include "ptx/models/encoders/efficientnet.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "ptx/models/encoders/named_configs.h"
#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

struct Config {
  const char* name;
  double width_mult, depth_mult, dropout;
};
constexpr Config kConfigs[] = {
    {"efficientnet_b0", 1.0, 1.0, 0.2}, {"efficientnet_b1", 1.0, 1.1, 0.2}, {"efficientnet_b2", 1.1, 1.2, 0.3},
    {"efficientnet_b3", 1.2, 1.4, 0.3}, {"efficientnet_b4", 1.4, 1.8, 0.4},
};

// Table 1 of the EfficientNet paper, as torchvision's _efficientnet_conf lists it for B0.
struct StageConfig {
  int64_t expand_ratio, kernel, stride, in, out, layers;
};
constexpr StageConfig kStages[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};
constexpr int64_t kNumStages = 7;
// Stages (features.1..7) that end at each feature map: map k (1..5) is the output of stage
// kStageEnd[k] (0: the stem). As segmentation_models' timm-efficientnet stage_idxs (2, 3, 5).
constexpr int64_t kStageEnd[] = {0, 0, 2, 3, 5, 7};
// Whether stage s (0-based: features.{s + 1}) ends map number `next` (the maps so far).
bool ends_map(size_t s, size_t next) {
  return next < std::size(kStageEnd) && static_cast<int64_t>(s) + 1 == kStageEnd[next];
}

// torchvision's _make_divisible(v, 8): the nearest multiple of 8 (at least 8), rounded up when
// rounding would lose more than 10%.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * v) r += divisor;
  return r;
}

int64_t adjust_channels(int64_t channels, double width_mult) {
  return make_divisible(static_cast<double>(channels) * width_mult);
}
int64_t adjust_depth(int64_t layers, double depth_mult) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(layers) * depth_mult));
}


}  // namespace

EfficientNetOptions EfficientNetOptions::named(const std::string& name) {
  const auto& c = find_config(kConfigs, name, "EfficientNet");
  EfficientNetOptions o;
  o.name = c.name;
  o.width_mult = c.width_mult;
  o.depth_mult = c.depth_mult;
  o.dropout = c.dropout;
  return o;
}

std::vector<std::string> EfficientNetOptions::names() { return config_names(kConfigs); }

// ---------------------------------------------------------------------------------------------

ConvNormActivationImpl::ConvNormActivationImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                               int64_t groups, bool silu)
    : silu_(silu) {
  conv = register_module("0", nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                             .stride(stride)
                                             .padding((kernel - 1) / 2)
                                             .groups(groups)
                                             .bias(false)));
  bn = register_module("1", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(1e-5).momentum(0.1)));
}

torch::Tensor ConvNormActivationImpl::forward(const torch::Tensor& x) {
  auto y = conv(x);
  if (bn) y = bn(y);
  // In place, as torchvision's SiLU(inplace=True): neither the convolution nor the batch norm
  // keeps its output for the backward pass.
  return silu_ ? torch::silu_(y) : y;
}

void ConvNormActivationImpl::fold_batch_norm() {
  if (!bn) return;  // already folded
  conv = replace_module("0", fold_batch_norm_into(conv, bn));
  unregister_module("1");
  bn = nullptr;
}

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels) {
  fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, squeeze_channels, 1)));
  fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(squeeze_channels, channels, 1)));
}

torch::Tensor SqueezeExcitationImpl::forward(torch::Tensor x) {
  // adaptive_avg_pool2d to 1x1 is this mean in ATen.
  auto scale = fc1(x.mean({2, 3}, /*keepdim=*/true));
  scale = fc2(torch::silu_(scale)).sigmoid_();
  // With autograd recording, x is needed for the gradient of scale: no in-place product then.
  if (torch::GradMode::is_enabled()) return x * scale;
  return x.mul_(scale);
}

MBConvImpl::MBConvImpl(int64_t in, int64_t out, int64_t expand_ratio, int64_t kernel, int64_t stride,
                       double stochastic_depth_prob)
    : residual_(stride == 1 && in == out), stochastic_depth_prob_(stochastic_depth_prob) {
  if (stride < 1 || stride > 2) throw core::Error("MBConv: stride must be 1 or 2, got " + std::to_string(stride));
  const int64_t expanded = adjust_channels(in, static_cast<double>(expand_ratio));
  block = register_module("block", nn::ModuleList());
  if (expanded != in) {
    expand = ConvNormActivation(in, expanded, 1);
    block->push_back(expand);
  }
  depthwise = ConvNormActivation(expanded, expanded, kernel, stride, /*groups=*/expanded);
  block->push_back(depthwise);
  se = SqueezeExcitation(expanded, std::max<int64_t>(1, in / 4));
  block->push_back(se);
  project = ConvNormActivation(expanded, out, 1, 1, 1, /*silu=*/false);
  block->push_back(project);
}

torch::Tensor MBConvImpl::forward(const torch::Tensor& x) {
  auto h = depthwise(expand ? expand(x) : x);
  h = project(se(std::move(h)));
  if (!residual_) return h;
  // torchvision.ops.stochastic_depth(mode="row"): each sample's branch is dropped with
  // probability p and the survivors scaled by 1 / (1 - p); identity in evaluation.
  if (is_training() && stochastic_depth_prob_ > 0.0) {
    const double survival = 1.0 - stochastic_depth_prob_;
    auto noise = torch::empty({h.size(0), 1, 1, 1}, h.options()).bernoulli_(survival);
    if (survival > 0.0) noise.div_(survival);
    h.mul_(noise);  // h is the batch norm's (or folded convolution's) fresh output
  }
  return h.add_(x);
}

void MBConvImpl::fold_batch_norm() {
  if (expand) expand->fold_batch_norm();
  depthwise->fold_batch_norm();
  project->fold_batch_norm();
}

// ---------------------------------------------------------------------------------------------

EfficientNetImpl::EfficientNetImpl(const EfficientNetOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1)
    throw core::Error(o.name + ": in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.depth < 1 || o.depth > 5)
    throw core::Error(o.name + ": depth must be 1..5, got " + std::to_string(o.depth));
  if (o.num_classes < 0)
    throw core::Error(o.name + ": num_classes must be >= 0, got " + std::to_string(o.num_classes));
  if (o.num_classes > 0 && o.depth != 5)
    throw core::Error(o.name + ": a classifier needs depth 5, got " + std::to_string(o.depth));
  if (!(o.width_mult > 0.0) || !(o.depth_mult > 0.0))
    throw core::Error(o.name + ": width_mult and depth_mult must be > 0");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw core::Error(o.name + ": dropout must be in [0, 1), got " + std::to_string(o.dropout));
  if (!(o.stochastic_depth_prob >= 0.0 && o.stochastic_depth_prob <= 1.0))
    throw core::Error(o.name + ": stochastic_depth_prob must be in [0, 1], got " +
                      std::to_string(o.stochastic_depth_prob));

  features_ = register_module("features", nn::ModuleList());
  const int64_t stem_out = adjust_channels(kStages[0].in, o.width_mult);
  stem_ = ConvNormActivation(o.in_channels, stem_out, 3, /*stride=*/2);
  features_->push_back(stem_);
  out_channels_ = {o.in_channels, stem_out};

  // The stochastic-depth schedule runs over all blocks of the full network, built or not.
  int64_t total_blocks = 0;
  for (const auto& s : kStages) total_blocks += adjust_depth(s.layers, o.depth_mult);
  const int64_t built_stages = kStageEnd[o.depth];
  int64_t block_id = 0;
  for (int64_t s = 0; s < built_stages; ++s) {
    const auto& c = kStages[s];
    const int64_t in = adjust_channels(c.in, o.width_mult), out = adjust_channels(c.out, o.width_mult);
    nn::ModuleList stage;
    std::vector<MBConv> blocks;
    for (int64_t b = 0; b < adjust_depth(c.layers, o.depth_mult); ++b, ++block_id) {
      const double p = o.stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      blocks.emplace_back(b == 0 ? in : out, out, c.expand_ratio, c.kernel, b == 0 ? c.stride : 1, p);
      stage->push_back(blocks.back());
    }
    features_->push_back(stage);
    stages_.push_back(std::move(blocks));
    if (ends_map(static_cast<size_t>(s), out_channels_.size())) out_channels_.push_back(out);
  }

  if (o.num_classes > 0) {
    const int64_t last_in = adjust_channels(kStages[kNumStages - 1].out, o.width_mult);
    const int64_t last_out = 4 * last_in;
    head_ = ConvNormActivation(last_in, last_out, 1);
    features_->push_back(head_);
    fc_ = nn::Linear(last_out, o.num_classes);
    classifier_ = register_module("classifier", nn::Sequential(nn::Dropout(o.dropout), fc_));
  }

  // torchvision's initialisation.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kLeakyReLU);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      const double range = 1.0 / std::sqrt(static_cast<double>(linear->options.out_features()));
      nn::init::uniform_(linear->weight, -range, range);
      nn::init::zeros_(linear->bias);
    }
  }
}

std::vector<int64_t> EfficientNetImpl::out_channels() const { return out_channels_; }

std::vector<torch::Tensor> EfficientNetImpl::features(const torch::Tensor& x) {
  std::vector<torch::Tensor> out{x};
  out.reserve(static_cast<size_t>(options_.depth) + 1);
  auto h = stem_(x);
  out.push_back(h);
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (auto& block : stages_[s]) h = block(h);
    if (ends_map(s, out.size())) out.push_back(h);
  }
  return out;
}

torch::Tensor EfficientNetImpl::forward(const torch::Tensor& x) {
  if (!fc_) return EncoderImpl::forward(x);
  return classify_map(classifier_map(x));
}

torch::Tensor EfficientNetImpl::classifier_map(const torch::Tensor& x) {
  if (!fc_) return EncoderImpl::classifier_map(x);
  auto h = stem_(x);
  for (auto& stage : stages_)
    for (auto& block : stage) h = block(h);
  return head_(h);  // the 1x1 convolution to 1280 (b0) channels
}

torch::Tensor EfficientNetImpl::classify_map(const torch::Tensor& map) {
  if (!fc_) return EncoderImpl::classify_map(map);
  auto h = map.mean({2, 3});  // avgpool + flatten
  // Dropout in place as torchvision's (h is a fresh tensor); only in training.
  if (is_training() && options_.dropout > 0.0) h = torch::dropout_(h, options_.dropout, true);
  return fc_(h);
}

void EfficientNetImpl::fold_batch_norm() {
  stem_->fold_batch_norm();
  for (auto& stage : stages_)
    for (auto& block : stage) block->fold_batch_norm();
  if (head_) head_->fold_batch_norm();
}

}  // namespace ptx::models

#include "ptx/models/encoders/densenet.h"

#include "ptx/models/encoders/named_configs.h"
#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

struct Config {
  const char* name;
  std::array<int64_t, 4> block_config;
};
constexpr Config kConfigs[] = {
    {"densenet121", {6, 12, 24, 16}},
    {"densenet169", {6, 12, 32, 32}},
};



// Channels entering dense block b (0-based) and leaving it.
struct Widths {
  std::array<int64_t, 4> in{}, out{};
};
Widths widths_of(const DenseNetOptions& o) {
  Widths w;
  int64_t c = o.num_init_features;
  for (size_t b = 0; b < 4; ++b) {
    w.in[b] = c;
    c += o.block_config[b] * o.growth_rate;
    w.out[b] = c;
    c /= 2;  // the transition after it
  }
  return w;
}

}  // namespace

DenseNetOptions DenseNetOptions::named(const std::string& name) {
  const auto& c = find_config(kConfigs, name, "DenseNet");
  DenseNetOptions o;
  o.name = c.name;
  o.block_config = c.block_config;
  return o;
}

std::vector<std::string> DenseNetOptions::names() { return config_names(kConfigs); }

DenseLayerImpl::DenseLayerImpl(int64_t in_features, int64_t growth_rate, int64_t bn_size, double drop_rate)
    : drop_rate_(drop_rate) {
  const int64_t width = bn_size * growth_rate;
  norm1 = register_module("norm1", nn::BatchNorm2d(in_features));
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in_features, width, 1).bias(false)));
  norm2 = register_module("norm2", nn::BatchNorm2d(width));
  conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(width, growth_rate, 3).padding(1).bias(false)));
}

torch::Tensor DenseLayerImpl::forward(const std::vector<torch::Tensor>& inputs) {
  const auto x = inputs.size() == 1 ? inputs.front() : torch::cat(inputs, 1);
  auto h = conv1(norm1(x).relu_());
  h = conv2(batch_norm_unless_folded(norm2, h).relu_());
  if (drop_rate_ > 0) h = torch::dropout(h, drop_rate_, is_training());
  return h;
}

void DenseLayerImpl::fold_batch_norm() { fold_registered_pair(*this, conv1, "conv1", norm2, "norm2"); }

DenseBlockImpl::DenseBlockImpl(int64_t num_layers, int64_t in_features, int64_t growth_rate, int64_t bn_size,
                               double drop_rate) {
  for (int64_t i = 0; i < num_layers; ++i) {
    layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                      DenseLayer(in_features + i * growth_rate, growth_rate, bn_size, drop_rate)));
  }
}

torch::Tensor DenseBlockImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features{x};
  features.reserve(layers_.size() + 1);
  for (auto& layer : layers_) features.push_back(layer->forward(features));
  return torch::cat(features, 1);
}

void DenseBlockImpl::fold_batch_norm() {
  for (auto& layer : layers_) layer->fold_batch_norm();
}

TransitionImpl::TransitionImpl(int64_t in_features, int64_t out_features, bool with_conv) {
  norm = register_module("norm", nn::BatchNorm2d(in_features));
  if (with_conv)
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in_features, out_features, 1).bias(false)));
}

std::pair<torch::Tensor, torch::Tensor> TransitionImpl::forward(const torch::Tensor& x) {
  auto skip = norm(x).relu_();
  if (!conv) return {torch::Tensor(), skip};
  return {torch::avg_pool2d(conv(skip), {2, 2}, {2, 2}), skip};
}

DenseNetImpl::DenseNetImpl(const DenseNetOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1)
    throw core::Error(o.name + ": in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.depth < 1 || o.depth > 5)
    throw core::Error(o.name + ": depth must be 1..5, got " + std::to_string(o.depth));
  if (o.num_classes < 0)
    throw core::Error(o.name + ": num_classes must be >= 0, got " + std::to_string(o.num_classes));
  if (o.num_classes > 0 && o.depth != 5)
    throw core::Error(o.name + ": a classifier needs depth 5, got " + std::to_string(o.depth));
  if (o.growth_rate < 1 || o.num_init_features < 1 || o.bn_size < 1)
    throw core::Error(o.name + ": growth_rate, num_init_features and bn_size must be >= 1");

  features_ = register_module("features", std::make_shared<nn::Module>());
  conv0 = features_->register_module(
      "conv0", nn::Conv2d(nn::Conv2dOptions(o.in_channels, o.num_init_features, 7).stride(2).padding(3).bias(false)));
  norm0 = features_->register_module("norm0", nn::BatchNorm2d(o.num_init_features));
  // Dense block b (0-based) ends at feature map b + 2. For depth d < 5 the last block built is
  // d - 2, followed by its transition's norm only (the skip); a depth-5 encoder has all four
  // blocks, three full transitions and norm5.
  const auto w = widths_of(o);
  for (int64_t b = 0; b < 4 && b + 2 <= o.depth; ++b) {
    const auto n = std::to_string(b + 1);
    blocks_.push_back(features_->register_module(
        "denseblock" + n, DenseBlock(o.block_config[b], w.in[b], o.growth_rate, o.bn_size, o.drop_rate)));
    if (b < 3) {
      const bool with_conv = b + 2 < o.depth;
      transitions_.push_back(features_->register_module("transition" + n, Transition(w.out[b], w.out[b] / 2, with_conv)));
    }
  }
  if (o.depth == 5) norm5 = features_->register_module("norm5", nn::BatchNorm2d(w.out[3]));
  if (o.num_classes > 0) classifier = register_module("classifier", nn::Linear(w.out[3], o.num_classes));

  // torchvision's initialisation.
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight);  // a = 0, fan_in, leaky_relu gain: sqrt(2)
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      nn::init::zeros_(linear->bias);
    }
  }
}

void DenseNetImpl::fold_batch_norm() {
  fold_registered_pair(*features_, conv0, "conv0", norm0, "norm0");
  for (auto& block : blocks_) block->fold_batch_norm();
}

std::vector<int64_t> DenseNetImpl::out_channels() const {
  const auto w = widths_of(options_);
  std::vector<int64_t> all{options_.in_channels, options_.num_init_features, w.out[0], w.out[1], w.out[2], w.out[3]};
  all.resize(static_cast<size_t>(options_.depth) + 1);
  return all;
}

std::vector<torch::Tensor> DenseNetImpl::features(const torch::Tensor& x) {
  std::vector<torch::Tensor> out{x};
  out.reserve(static_cast<size_t>(options_.depth) + 1);
  auto h = batch_norm_unless_folded(norm0, conv0(x)).relu_();
  out.push_back(h);
  if (!blocks_.empty()) h = torch::max_pool2d(h, {3, 3}, {2, 2}, {1, 1});
  for (size_t b = 0; b < blocks_.size(); ++b) {
    h = blocks_[b]->forward(h);
    if (b < transitions_.size()) {
      auto [next, skip] = transitions_[b]->forward(h);
      out.push_back(skip);
      h = next;
    } else {
      out.push_back(norm5(h));
    }
  }
  return out;
}

torch::Tensor DenseNetImpl::forward(const torch::Tensor& x) {
  if (!classifier) return EncoderImpl::forward(x);
  return classify_map(classifier_map(x));
}

torch::Tensor DenseNetImpl::classifier_map(const torch::Tensor& x) {
  if (!classifier) return EncoderImpl::classifier_map(x);
  auto h = torch::max_pool2d(batch_norm_unless_folded(norm0, conv0(x)).relu_(), {3, 3}, {2, 2}, {1, 1});
  for (size_t b = 0; b < blocks_.size(); ++b) {
    h = blocks_[b]->forward(h);
    if (b < transitions_.size()) h = transitions_[b]->forward(h).first;
  }
  return norm5(h).relu_();  // torchvision's F.relu(features) before the pooling
}

torch::Tensor DenseNetImpl::classify_map(const torch::Tensor& map) {
  if (!classifier) return EncoderImpl::classify_map(map);
  const auto h = torch::adaptive_avg_pool2d(map, {1, 1}).flatten(1);
  return classifier(torch::dropout(h, options_.dropout, is_training()));
}

}  // namespace ptx::models

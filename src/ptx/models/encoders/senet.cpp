#include "ptx/models/encoders/senet.h"

#include "ptx/models/encoders/named_configs.h"
#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

struct Config {
  const char* name;
  std::array<int64_t, 4> layers;
};
constexpr Config kConfigs[] = {
    {"se_resnext50_32x4d", {3, 4, 6, 3}},
    {"se_resnext101_32x4d", {3, 4, 23, 3}},
};



}  // namespace

SENetOptions SENetOptions::named(const std::string& name) {
  const auto& c = find_config(kConfigs, name, "SENet");
  SENetOptions o;
  o.name = c.name;
  o.layers = c.layers;
  return o;
}

std::vector<std::string> SENetOptions::names() { return config_names(kConfigs); }

SEModuleImpl::SEModuleImpl(int64_t channels, int64_t reduction) {
  fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, channels / reduction, 1)));
  fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(channels / reduction, channels, 1)));
}

torch::Tensor SEModuleImpl::forward(const torch::Tensor& x) {
  auto w = torch::adaptive_avg_pool2d(x, {1, 1});
  w = fc2(fc1(w).relu_()).sigmoid_();
  return x * w;
}

SEResNeXtBottleneckImpl::SEResNeXtBottleneckImpl(int64_t in_planes, int64_t planes, int64_t groups,
                                                 int64_t base_width, int64_t reduction, int64_t stride) {
  // Cadene: width = math.floor(planes * (base_width / 64)) * groups.
  const int64_t width = planes * base_width / 64 * groups;
  const int64_t out_planes = planes * expansion;
  conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in_planes, width, 1).bias(false)));
  bn1 = register_module("bn1", nn::BatchNorm2d(width));
  conv2 = register_module(
      "conv2",
      nn::Conv2d(nn::Conv2dOptions(width, width, 3).stride(stride).padding(1).groups(groups).bias(false)));
  bn2 = register_module("bn2", nn::BatchNorm2d(width));
  conv3 = register_module("conv3", nn::Conv2d(nn::Conv2dOptions(width, out_planes, 1).bias(false)));
  bn3 = register_module("bn3", nn::BatchNorm2d(out_planes));
  se_module = register_module("se_module", SEModule(out_planes, reduction));
  // Cadene's _make_layer for se_resnext: downsample_kernel_size 1, downsample_padding 0.
  if (stride != 1 || in_planes != out_planes) {
    downsample = register_module(
        "downsample",
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false)),
                       nn::BatchNorm2d(out_planes)));
  }
}

torch::Tensor SEResNeXtBottleneckImpl::forward(const torch::Tensor& x) {
  auto out = batch_norm_unless_folded(bn1, conv1(x)).relu_();
  out = batch_norm_unless_folded(bn2, conv2(out)).relu_();
  out = se_module(batch_norm_unless_folded(bn3, conv3(out)));
  out += downsample ? downsample->forward(x) : x;
  return torch::relu_(out);
}

void SEResNeXtBottleneckImpl::fold_batch_norm() {
  fold_registered_pair(*this, conv1, "conv1", bn1, "bn1");
  fold_registered_pair(*this, conv2, "conv2", bn2, "bn2");
  fold_registered_pair(*this, conv3, "conv3", bn3, "bn3");
  if (downsample) downsample = replace_module("downsample", fold_sequential(downsample));
}

SENetStemImpl::SENetStemImpl(int64_t in_channels, int64_t planes) {
  conv1 = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(in_channels, planes, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", nn::BatchNorm2d(planes));
}

torch::Tensor SENetStemImpl::forward(const torch::Tensor& x) { return batch_norm_unless_folded(bn1, conv1(x)).relu_(); }

torch::Tensor SENetStemImpl::pool(const torch::Tensor& x) const {
  return torch::max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
}

void SENetStemImpl::fold_batch_norm() { fold_registered_pair(*this, conv1, "conv1", bn1, "bn1"); }

SENetImpl::SENetImpl(const SENetOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1)
    throw core::Error(o.name + ": in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.depth < 1 || o.depth > 5)
    throw core::Error(o.name + ": depth must be 1..5, got " + std::to_string(o.depth));
  if (o.num_classes < 0)
    throw core::Error(o.name + ": num_classes must be >= 0, got " + std::to_string(o.num_classes));
  if (o.num_classes > 0 && o.depth != 5)
    throw core::Error(o.name + ": a classifier needs depth 5, got " + std::to_string(o.depth));
  if (o.groups < 1 || o.base_width < 1 || o.reduction < 1)
    throw core::Error(o.name + ": groups, base_width and reduction must be >= 1");

  layer0 = register_module("layer0", SENetStem(o.in_channels, 64));
  int64_t in_planes = 64;
  // Stage s (layer{s+1}) is feature map s + 2; build only those features() reaches.
  for (int64_t s = 0; s < 4 && s + 2 <= o.depth; ++s) {
    const int64_t planes = 64 << s;
    nn::Sequential layer;
    for (int64_t b = 0; b < o.layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      layer->push_back(SEResNeXtBottleneck(in_planes, planes, o.groups, o.base_width, o.reduction, stride));
      in_planes = planes * SEResNeXtBottleneckImpl::expansion;
    }
    layers_.push_back(register_module("layer" + std::to_string(s + 1), layer));
  }
  if (o.num_classes > 0)
    last_linear = register_module("last_linear", nn::Linear(512 * SEResNeXtBottleneckImpl::expansion, o.num_classes));
  // Cadene's SENet has no initialisation of its own: PyTorch's module defaults, LibTorch's too.
}

void SENetImpl::fold_batch_norm() {
  layer0->fold_batch_norm();
  for (auto& layer : layers_)
    for (auto& block : layer->children()) block->as<SEResNeXtBottleneck>()->fold_batch_norm();
}

std::vector<int64_t> SENetImpl::out_channels() const {
  std::vector<int64_t> all{options_.in_channels, 64, 256, 512, 1024, 2048};
  all.resize(static_cast<size_t>(options_.depth) + 1);
  return all;
}

std::vector<torch::Tensor> SENetImpl::features(const torch::Tensor& x) {
  std::vector<torch::Tensor> out{x};
  out.reserve(static_cast<size_t>(options_.depth) + 1);
  auto h = layer0(x);
  out.push_back(h);
  for (size_t s = 0; s < layers_.size(); ++s) {
    h = layers_[s]->forward(s == 0 ? layer0->pool(h) : h);
    out.push_back(h);
  }
  return out;
}

torch::Tensor SENetImpl::forward(const torch::Tensor& x) {
  if (!last_linear) return EncoderImpl::forward(x);
  return classify_map(classifier_map(x));
}

torch::Tensor SENetImpl::classifier_map(const torch::Tensor& x) {
  if (!last_linear) return EncoderImpl::classifier_map(x);
  auto h = layer0->pool(layer0(x));
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

torch::Tensor SENetImpl::classify_map(const torch::Tensor& map) {
  if (!last_linear) return EncoderImpl::classify_map(map);
  const auto h = torch::adaptive_avg_pool2d(map, {1, 1}).flatten(1);
  return last_linear(torch::dropout(h, options_.dropout, is_training()));
}

}  // namespace ptx::models

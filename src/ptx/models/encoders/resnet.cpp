#include "ptx/models/encoders/resnet.h"

#include "ptx/models/encoders/named_configs.h"
#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}
nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

// torchvision's shortcut projection: present when the block changes resolution or width.
nn::Sequential make_downsample(int64_t in_planes, int64_t out_planes, int64_t stride) {
  if (stride == 1 && in_planes == out_planes) return nn::Sequential(nullptr);
  return nn::Sequential(conv1x1(in_planes, out_planes, stride), nn::BatchNorm2d(out_planes));
}

struct Config {
  const char* name;
  ResNetOptions::Block block;
  std::array<int64_t, 4> layers;
};
constexpr Config kConfigs[] = {
    {"resnet18", ResNetOptions::Block::basic, {2, 2, 2, 2}},
    {"resnet34", ResNetOptions::Block::basic, {3, 4, 6, 3}},
    {"resnet50", ResNetOptions::Block::bottleneck, {3, 4, 6, 3}},
    {"resnet101", ResNetOptions::Block::bottleneck, {3, 4, 23, 3}},
};


int64_t expansion_of(ResNetOptions::Block b) {
  return b == ResNetOptions::Block::basic ? BasicBlockImpl::expansion : BottleneckImpl::expansion;
}


}  // namespace

ResNetOptions ResNetOptions::named(const std::string& name) {
  const auto& c = find_config(kConfigs, name, "ResNet");
  ResNetOptions o;
  o.name = c.name;
  o.block = c.block;
  o.layers = c.layers;
  return o;
}

std::vector<std::string> ResNetOptions::names() { return config_names(kConfigs); }

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv3x3(in_planes, planes, stride));
  bn1 = register_module("bn1", nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, 1));
  bn2 = register_module("bn2", nn::BatchNorm2d(planes));
  downsample = make_downsample(in_planes, planes * expansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto out = batch_norm_unless_folded(bn1, conv1(x)).relu_();
  out = batch_norm_unless_folded(bn2, conv2(out));
  out += downsample ? downsample->forward(x) : x;
  return torch::relu_(out);
}

BottleneckImpl::BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv1x1(in_planes, planes));
  bn1 = register_module("bn1", nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, stride));
  bn2 = register_module("bn2", nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv1x1(planes, planes * expansion));
  bn3 = register_module("bn3", nn::BatchNorm2d(planes * expansion));
  downsample = make_downsample(in_planes, planes * expansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = batch_norm_unless_folded(bn1, conv1(x)).relu_();
  out = batch_norm_unless_folded(bn2, conv2(out)).relu_();
  out = batch_norm_unless_folded(bn3, conv3(out));
  out += downsample ? downsample->forward(x) : x;
  return torch::relu_(out);
}

void BasicBlockImpl::fold_batch_norm() {
  fold_registered_pair(*this, conv1, "conv1", bn1, "bn1");
  fold_registered_pair(*this, conv2, "conv2", bn2, "bn2");
  if (downsample) downsample = replace_module("downsample", fold_sequential(downsample));
}

void BottleneckImpl::fold_batch_norm() {
  fold_registered_pair(*this, conv1, "conv1", bn1, "bn1");
  fold_registered_pair(*this, conv2, "conv2", bn2, "bn2");
  fold_registered_pair(*this, conv3, "conv3", bn3, "bn3");
  if (downsample) downsample = replace_module("downsample", fold_sequential(downsample));
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1)
    throw core::Error(o.name + ": in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.depth < 1 || o.depth > 5)
    throw core::Error(o.name + ": depth must be 1..5, got " + std::to_string(o.depth));
  if (o.num_classes < 0)
    throw core::Error(o.name + ": num_classes must be >= 0, got " + std::to_string(o.num_classes));
  if (o.num_classes > 0 && o.depth != 5)
    throw core::Error(o.name + ": a classifier needs depth 5, got " + std::to_string(o.depth));

  conv1 = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(o.in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", nn::BatchNorm2d(64));
  maxpool = register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));

  const int64_t expansion = expansion_of(o.block);
  int64_t in_planes = 64;
  // Stage s (layer{s+1}) is feature map s + 2; build only those features() reaches.
  for (int64_t s = 0; s < 4 && s + 2 <= o.depth; ++s) {
    const int64_t planes = 64 << s;
    nn::Sequential layer;
    for (int64_t b = 0; b < o.layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      if (o.block == ResNetOptions::Block::basic)
        layer->push_back(BasicBlock(in_planes, planes, stride));
      else
        layer->push_back(Bottleneck(in_planes, planes, stride));
      in_planes = planes * expansion;
    }
    layers_.push_back(register_module("layer" + std::to_string(s + 1), layer));
  }
  if (o.num_classes > 0) fc = register_module("fc", nn::Linear(512 * expansion, o.num_classes));

  // torchvision's initialisation (fc keeps the default nn.Linear one, as in torchvision).
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

void ResNetImpl::fold_batch_norm() {
  fold_registered_pair(*this, conv1, "conv1", bn1, "bn1");
  for (auto& layer : layers_) {
    for (auto& block : layer->children()) {
      if (auto* basic = block->as<BasicBlock>())
        basic->fold_batch_norm();
      else if (auto* bottleneck = block->as<Bottleneck>())
        bottleneck->fold_batch_norm();
    }
  }
}

std::vector<int64_t> ResNetImpl::out_channels() const {
  const int64_t e = expansion_of(options_.block);
  std::vector<int64_t> all{options_.in_channels, 64, 64 * e, 128 * e, 256 * e, 512 * e};
  all.resize(static_cast<size_t>(options_.depth) + 1);
  return all;
}

std::vector<torch::Tensor> ResNetImpl::features(const torch::Tensor& x) {
  std::vector<torch::Tensor> out{x};
  out.reserve(static_cast<size_t>(options_.depth) + 1);
  auto h = batch_norm_unless_folded(bn1, conv1(x)).relu_();
  out.push_back(h);
  for (size_t s = 0; s < layers_.size(); ++s) {
    h = layers_[s]->forward(s == 0 ? maxpool(h) : h);
    out.push_back(h);
  }
  return out;
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  if (!fc) return EncoderImpl::forward(x);
  return classify_map(classifier_map(x));
}

torch::Tensor ResNetImpl::classifier_map(const torch::Tensor& x) {
  if (!fc) return EncoderImpl::classifier_map(x);
  // As features(x).back(), without keeping every intermediate map alive.
  auto h = maxpool(batch_norm_unless_folded(bn1, conv1(x)).relu_());
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

torch::Tensor ResNetImpl::classify_map(const torch::Tensor& map) {
  if (!fc) return EncoderImpl::classify_map(map);
  const auto h = torch::adaptive_avg_pool2d(map, {1, 1}).flatten(1);
  return fc(torch::dropout(h, options_.dropout, is_training()));
}

}  // namespace ptx::models

#include "ptx/models/encoders/vgg.h"

#include "ptx/models/encoders/named_configs.h"
#include "ptx/core/error.h"
#include "ptx/models/fold.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

constexpr int64_t M = 0;  // a max pool in a configuration
// torchvision's cfgs["D"].
const std::vector<int64_t> kConfigD{64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};

struct Config {
  const char* name;
  const std::vector<int64_t>* config;
  bool batch_norm;
};
const Config kConfigs[] = {
    {"vgg16", &kConfigD, false},
    {"vgg16_bn", &kConfigD, true},
};


bool is_pool(const nn::AnyModule& m) { return m.ptr()->as<nn::MaxPool2d>() != nullptr; }

}  // namespace

VGGOptions VGGOptions::named(const std::string& name) {
  const auto& c = find_config(kConfigs, name, "VGG");
  VGGOptions o;
  o.name = c.name;
  o.config = *c.config;
  o.batch_norm = c.batch_norm;
  return o;
}

std::vector<std::string> VGGOptions::names() { return config_names(kConfigs); }

VGGImpl::VGGImpl(const VGGOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels < 1)
    throw core::Error(o.name + ": in_channels must be >= 1, got " + std::to_string(o.in_channels));
  if (o.depth < 1 || o.depth > 5)
    throw core::Error(o.name + ": depth must be 1..5, got " + std::to_string(o.depth));
  if (o.num_classes < 0)
    throw core::Error(o.name + ": num_classes must be >= 0, got " + std::to_string(o.num_classes));
  if (o.num_classes > 0 && o.depth != 5)
    throw core::Error(o.name + ": a classifier needs depth 5, got " + std::to_string(o.depth));
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw core::Error(o.name + ": dropout must be in [0, 1), got " + std::to_string(o.dropout));
  int64_t pools = 0;
  for (auto v : o.config) pools += v == M;
  if (pools != 5 || o.config.empty() || o.config.front() == M || o.config.back() != M)
    throw core::Error(o.name + ": a VGG configuration needs five max pools, the last at the end");

  // torchvision's make_layers, stopped before the max pool that would start map depth + 1.
  features_ = register_module("features", nn::Sequential());
  int64_t in = o.in_channels, seen_pools = 0;
  for (auto v : o.config) {
    if (v == M) {
      if (++seen_pools > o.depth) break;
      features_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    features_->push_back(nn::Conv2d(nn::Conv2dOptions(in, v, 3).padding(1)));
    if (o.batch_norm) features_->push_back(nn::BatchNorm2d(v));
    features_->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    in = v;
  }
  if (o.num_classes > 0) {
    classifier = register_module(
        "classifier",
        nn::Sequential(nn::Linear(512 * 7 * 7, 4096), nn::ReLU(nn::ReLUOptions().inplace(true)),
                       nn::Dropout(o.dropout), nn::Linear(4096, 4096), nn::ReLU(nn::ReLUOptions().inplace(true)),
                       nn::Dropout(o.dropout), nn::Linear(4096, o.num_classes)));
  }

  // torchvision's initialisation (init_weights=True).
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      nn::init::zeros_(conv->bias);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      nn::init::normal_(linear->weight, 0.0, 0.01);
      nn::init::zeros_(linear->bias);
    }
  }
}

void VGGImpl::fold_batch_norm() {
  if (options_.batch_norm) features_ = replace_module("features", fold_sequential(features_));
}

std::vector<int64_t> VGGImpl::out_channels() const {
  // The width of the last convolution before each max pool, then the same again after the last pool.
  std::vector<int64_t> all;
  int64_t last = 0;
  for (auto v : options_.config) {
    if (v == M)
      all.push_back(last);
    else
      last = v;
  }
  all.push_back(last);  // map 5: the pooled map 4
  all.resize(static_cast<size_t>(options_.depth) + 1);
  return all;
}

std::vector<torch::Tensor> VGGImpl::features(const torch::Tensor& x) {
  // A map ends before each max pool, and the last one at the end of `features`.
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(options_.depth) + 1);
  auto h = x;
  for (auto& m : *features_) {
    if (is_pool(m)) out.push_back(h);
    h = m.forward(h);
  }
  out.push_back(h);
  return out;
}

torch::Tensor VGGImpl::forward(const torch::Tensor& x) {
  if (!classifier) return EncoderImpl::forward(x);
  return classify_map(classifier_map(x));
}

torch::Tensor VGGImpl::classifier_map(const torch::Tensor& x) {
  if (!classifier) return EncoderImpl::classifier_map(x);
  return features_->forward(x);  // ends with the last max pool, as torchvision's `features`
}

torch::Tensor VGGImpl::classify_map(const torch::Tensor& map) {
  if (!classifier) return EncoderImpl::classify_map(map);
  return classifier->forward(torch::adaptive_avg_pool2d(map, {7, 7}).flatten(1));
}

}  // namespace ptx::models

#include "ptx/models/decoders/fcdensenet.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/models/decoders/blocks.h"

namespace ptx::models {
namespace nn = torch::nn;

namespace {

// bfortuner's DenseLayer: Sequential(norm, relu, conv, drop).
nn::Sequential dense_layer(int64_t in_channels, int64_t growth_rate, double dropout) {
  nn::Sequential layer;
  layer->push_back("norm", nn::BatchNorm2d(in_channels));
  layer->push_back("relu", nn::ReLU(nn::ReLUOptions().inplace(true)));
  layer->push_back("conv", nn::Conv2d(nn::Conv2dOptions(in_channels, growth_rate, 3).padding(1)));
  layer->push_back("drop", nn::Dropout2d(nn::Dropout2dOptions(dropout)));
  return layer;
}

// bfortuner's TransitionDown: Sequential(norm, relu, conv 1x1, drop, maxpool).
nn::Sequential transition_down(int64_t channels, double dropout) {
  nn::Sequential t;
  t->push_back("norm", nn::BatchNorm2d(channels));
  t->push_back("relu", nn::ReLU(nn::ReLUOptions().inplace(true)));
  t->push_back("conv", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
  t->push_back("drop", nn::Dropout2d(nn::Dropout2dOptions(dropout)));
  t->push_back("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  return t;
}

}  // namespace

const std::vector<std::string>& FCDenseNetOptions::names() {
  static const std::vector<std::string> names{"fcdensenet57", "fcdensenet67", "fcdensenet103"};
  return names;
}

bool FCDenseNetOptions::is_name(const std::string& name) {
  const auto& n = names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

FCDenseNetOptions FCDenseNetOptions::named(const std::string& name) {
  FCDenseNetOptions o;
  o.name = name;
  if (name == "fcdensenet57") {
    o.down_blocks = o.up_blocks = {4, 4, 4, 4, 4};
    o.bottleneck_layers = 4;
    o.growth_rate = 12;
  } else if (name == "fcdensenet67") {
    o.down_blocks = o.up_blocks = {5, 5, 5, 5, 5};
    o.bottleneck_layers = 5;
    o.growth_rate = 16;
  } else if (name == "fcdensenet103") {
    o.down_blocks = {4, 5, 7, 10, 12};
    o.up_blocks = {12, 10, 7, 5, 4};
    o.bottleneck_layers = 15;
    o.growth_rate = 16;
  } else {
    throw core::Error("unknown FC-DenseNet '" + name + "': valid names are " + core::join(names()));
  }
  return o;
}

FCDenseBlockImpl::FCDenseBlockImpl(int64_t in_channels, int64_t growth_rate, int64_t n, bool upsample,
                                   double dropout)
    : upsample_(upsample) {
  layers = register_module("layers", nn::ModuleList());
  for (int64_t j = 0; j < n; ++j) {
    layers_.push_back(dense_layer(in_channels + j * growth_rate, growth_rate, dropout));
    layers->push_back(layers_.back());
  }
}

torch::Tensor FCDenseBlockImpl::forward(const torch::Tensor& input) {
  auto x = input;
  std::vector<torch::Tensor> new_features;
  for (auto& layer : layers_) {
    auto out = layer->forward(x);
    x = torch::cat({x, out}, 1);
    if (upsample_) new_features.push_back(out);
  }
  return upsample_ ? torch::cat(new_features, 1) : x;
}

FCTransitionUpImpl::FCTransitionUpImpl(int64_t in_channels, int64_t out_channels) {
  convTrans = register_module(
      "convTrans", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in_channels, out_channels, 3).stride(2)));
}

torch::Tensor FCTransitionUpImpl::forward(const torch::Tensor& x, const torch::Tensor& skip) {
  auto out = convTrans->forward(x);
  // Centre crop (bfortuner's center_crop) to the skip's size.
  const int64_t h = skip.size(2), w = skip.size(3);
  const int64_t top = (out.size(2) - h) / 2, left = (out.size(3) - w) / 2;
  out = out.slice(2, top, top + h).slice(3, left, left + w);
  return torch::cat({out, skip}, 1);
}

FCDenseNetImpl::FCDenseNetImpl(const FCDenseNetOptions& o) : options_(o) {
  const auto bad = [&](const std::string& what) { return core::Error("FC-DenseNet " + o.name + ": " + what); };
  if (o.down_blocks.empty() || o.down_blocks.size() != o.up_blocks.size())
    throw bad("down_blocks and up_blocks must be non-empty and of the same length");
  if (o.in_channels < 1 || o.classes < 1 || o.growth_rate < 1 || o.first_conv_channels < 1 ||
      o.bottleneck_layers < 1)
    throw bad("in_channels, classes, growth_rate, first_conv_channels and bottleneck_layers must be >= 1");
  if (o.classifier && o.aux_head) throw bad("a classifier has no auxiliary head");
  const int64_t g = o.growth_rate;
  const double p = o.dense_dropout;

  firstconv = register_module("firstconv",
                              nn::Conv2d(nn::Conv2dOptions(o.in_channels, o.first_conv_channels, 3).padding(1)));
  int64_t channels = o.first_conv_channels;
  std::vector<int64_t> skip_channels;  // deepest first
  denseBlocksDown = register_module("denseBlocksDown", nn::ModuleList());
  transDownBlocks = register_module("transDownBlocks", nn::ModuleList());
  for (auto n : o.down_blocks) {
    down_.emplace_back(channels, g, n, /*upsample=*/false, p);
    denseBlocksDown->push_back(down_.back());
    channels += g * n;
    skip_channels.insert(skip_channels.begin(), channels);
    trans_down_.push_back(transition_down(channels, p));
    transDownBlocks->push_back(trans_down_.back());
  }
  nn::Sequential bottleneck_seq;
  bottleneck_seq->push_back("bottleneck", FCDenseBlock(channels, g, o.bottleneck_layers, /*upsample=*/true, p));
  bottleneck = register_module("bottleneck", bottleneck_seq);
  int64_t prev = g * o.bottleneck_layers;

  if (!o.classifier) {
    transUpBlocks = register_module("transUpBlocks", nn::ModuleList());
    denseBlocksUp = register_module("denseBlocksUp", nn::ModuleList());
    const size_t n_up = o.up_blocks.size();
    for (size_t i = 0; i < n_up; ++i) {
      const bool last = i + 1 == n_up;
      trans_up_.emplace_back(prev, prev);
      transUpBlocks->push_back(trans_up_.back());
      channels = prev + skip_channels[i];
      up_.emplace_back(channels, g, o.up_blocks[i], /*upsample=*/!last, p);
      denseBlocksUp->push_back(up_.back());
      prev = g * o.up_blocks[i];
      channels += prev;
    }
    finalConv = register_module("finalConv", nn::Conv2d(nn::Conv2dOptions(channels, o.classes, 1)));
  }
  // Convolutions: kaiming-uniform weights and zero biases; batch norms 1 and 0 (the transposed
  // convolutions keep PyTorch's default).
  initialize_decoder(*this);
  if (o.classifier || o.aux_head)
    classification_head = register_module(
        "classification_head", make_classification_head(bottleneck_channels(), o.classes, o.dropout));
}

torch::Tensor FCDenseNetImpl::encode(const torch::Tensor& x, std::vector<torch::Tensor>* skips) {
  auto out = firstconv->forward(x);
  for (size_t i = 0; i < down_.size(); ++i) {
    out = down_[i]->forward(out);
    if (skips) skips->push_back(out);
    out = trans_down_[i]->forward(out);
  }
  return bottleneck->forward(out);
}

torch::Tensor FCDenseNetImpl::decode(torch::Tensor out, std::vector<torch::Tensor> skips) {
  for (size_t i = 0; i < up_.size(); ++i) {
    const auto skip = skips.back();
    skips.pop_back();
    out = up_[i]->forward(trans_up_[i]->forward(out, skip));
  }
  return finalConv->forward(out);
}

torch::Tensor FCDenseNetImpl::forward(const torch::Tensor& x) {
  if (options_.classifier) return classification_head->forward(encode(x, nullptr));
  std::vector<torch::Tensor> skips;
  auto deepest = encode(x, &skips);
  return decode(std::move(deepest), std::move(skips));
}

ModelOutput FCDenseNetImpl::forward_all(const torch::Tensor& x) {
  if (options_.classifier) return {forward(x), {}};
  std::vector<torch::Tensor> skips;
  const auto deepest = encode(x, &skips);
  ModelOutput out;
  out.logits = decode(deepest, std::move(skips));
  if (classification_head) out.aux_logits = classification_head->forward(deepest);
  return out;
}

}  // namespace ptx::models

// ResNet encoders and classifiers (src/ptx/models/encoders/resnet): torchvision's parameter
// counts and module names, feature maps. Outputs equal to torchvision's: test_models_parity.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/encoders/resnet.h"

using namespace ptx;
using models::ResNet;
using models::ResNetOptions;

namespace {

ResNet make_resnet(const std::string& name, int64_t num_classes = 0, int64_t in_channels = 3,
                   int64_t depth = 5) {
  auto o = ResNetOptions::named(name);
  o.num_classes = num_classes;
  o.in_channels = in_channels;
  o.depth = depth;
  return ResNet(o);
}

}  // namespace

TEST(ResNet, ClassifierParameterCountsMatchTorchvision) {
  EXPECT_EQ(models::count_parameters(*make_resnet("resnet18", 1000)), 11689512);
  EXPECT_EQ(models::count_parameters(*make_resnet("resnet34", 1000)), 21797672);
  EXPECT_EQ(models::count_parameters(*make_resnet("resnet50", 1000)), 25557032);
  EXPECT_EQ(models::count_parameters(*make_resnet("resnet101", 1000)), 44549160);
}

TEST(ResNet, EncoderRegistersNoClassifier) {
  auto enc = make_resnet("resnet34");
  for (const auto& p : enc->named_parameters()) EXPECT_NE(p.key().rfind("fc.", 0), 0u) << p.key();
  EXPECT_EQ(models::count_parameters(*enc), 21797672 - (512 * 1000 + 1000));
  EXPECT_THROW(enc->forward(torch::zeros({1, 3, 64, 64})), core::Error);
}

TEST(ResNet, ModuleNamesAreTorchvisions) {
  auto net = make_resnet("resnet50", 1000);
  const auto params = net->named_parameters();
  const auto buffers = net->named_buffers();
  for (const char* k : {"conv1.weight", "bn1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                        "layer4.2.bn3.bias", "fc.weight", "fc.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  for (const char* k : {"bn1.running_mean", "layer2.0.downsample.1.running_var", "layer3.5.bn2.num_batches_tracked"})
    EXPECT_TRUE(buffers.contains(k)) << k;
  // No convolution has a bias: each is followed by batch norm.
  for (const auto& p : params) {
    if (p.key().find("conv") != std::string::npos || p.key().find("downsample.0") != std::string::npos) {
      EXPECT_EQ(p.key().substr(p.key().size() - 6), "weight") << p.key();
    }
  }
  // v1.5: the stride is on the 3x3 convolution of a Bottleneck.
  auto* block = net->named_modules()["layer2.0"].get();
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->named_parameters()["conv2.weight"].size(2), 3);
}

TEST(ResNet, FeatureShapesAndChannels) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  const std::pair<const char*, std::vector<int64_t>> cases[] = {{"resnet34", {3, 64, 64, 128, 256, 512}},
                                                                 {"resnet50", {3, 64, 256, 512, 1024, 2048}}};
  for (const auto& [name, channels] : cases) {
    auto enc = make_resnet(name);
    enc->eval();
    EXPECT_EQ(enc->out_channels(), channels) << name;
    const auto f = enc->features(x);
    ASSERT_EQ(f.size(), 6u) << name;
    EXPECT_TRUE(f[0].is_same(x)) << name;
    for (size_t i = 0; i < f.size(); ++i) {
      const int64_t side = 64 >> i;
      EXPECT_EQ(f[i].sizes(), torch::IntArrayRef({1, channels[i], side, side})) << name << " feature " << i;
    }
  }
}

TEST(ResNet, SingleChannelInput) {
  torch::NoGradGuard no_grad;
  auto enc = make_resnet("resnet18", 0, 1);
  enc->eval();
  EXPECT_EQ(enc->named_parameters()["conv1.weight"].sizes(), torch::IntArrayRef({64, 1, 7, 7}));
  EXPECT_EQ(enc->out_channels().front(), 1);
  const auto f = enc->features(torch::randn({2, 1, 64, 64}));
  EXPECT_EQ(f.back().sizes(), torch::IntArrayRef({2, 512, 2, 2}));
  EXPECT_THROW(make_resnet("resnet18", 0, 0), core::Error);
}

TEST(ResNet, ShallowEncoderBuildsOnlyItsStages) {
  auto enc = make_resnet("resnet34", 0, 3, 3);
  EXPECT_EQ(enc->out_channels(), std::vector<int64_t>({3, 64, 64, 128}));
  for (const auto& p : enc->named_parameters()) {
    EXPECT_NE(p.key().rfind("layer3.", 0), 0u) << p.key();
    EXPECT_NE(p.key().rfind("layer4.", 0), 0u) << p.key();
  }
  torch::NoGradGuard no_grad;
  const auto f = enc->features(torch::randn({1, 3, 64, 64}));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[3].sizes(), torch::IntArrayRef({1, 128, 8, 8}));
  EXPECT_THROW(make_resnet("resnet34", 10, 3, 3), core::Error);  // a classifier needs depth 5
  EXPECT_THROW(make_resnet("resnet34", 0, 3, 6), core::Error);
}

TEST(ResNet, UnknownNameListsChoices) {
  try {
    ResNetOptions::named("resnet35");
    FAIL() << "no error";
  } catch (const core::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("resnet35"), std::string::npos) << msg;
    EXPECT_NE(msg.find("resnet18, resnet34, resnet50, resnet101"), std::string::npos) << msg;
  }
}

TEST(ResNet, ClassifierForwardAndBackward) {
  auto net = make_resnet("resnet18", 7);
  net->train();
  const auto y = net->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 7}));
  y.sum().backward();
  for (const auto& p : net->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
}

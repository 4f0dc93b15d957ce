// DenseNet encoders and classifiers (src/ptx/models/encoders/densenet): torchvision's parameter
// counts and module names, feature maps (segmentation_models' DenseNetEncoder, whose skips are
// taken inside the transitions), folding, and outputs equal to torchvision's and
// segmentation_models' (restated in Python below: it is not packaged for Debian).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "encoder_test_support.h"
#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/densenet.h"
#include "ptx/models/registry.h"
#include "python_reference.h"

using namespace ptx;
using models::DenseNet;
using models::DenseNetOptions;

namespace {

DenseNet make_densenet(const std::string& name, int64_t num_classes = 0, int64_t in_channels = 3,
                       int64_t depth = 5) {
  auto o = DenseNetOptions::named(name);
  o.num_classes = num_classes;
  o.in_channels = in_channels;
  o.depth = depth;
  return DenseNet(o);
}

// torchvision's densenet121, and segmentation_models' DenseNetEncoder (its TransitionWithSkip and
// stages restated with the same forward code) on torchvision's DenseNet.
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
from torchvision.models.densenet import DenseNet

class TransitionWithSkip(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module
    def forward(self, x):
        for module in self.module:
            x = module(x)
            if isinstance(module, nn.ReLU):
                skip = x
        return x, skip

class DenseNetEncoder(DenseNet):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        del self.classifier
    def forward(self, x):
        f = self.features
        stages = [
            nn.Identity(),
            nn.Sequential(f.conv0, f.norm0, f.relu0),
            nn.Sequential(f.pool0, f.denseblock1, TransitionWithSkip(f.transition1)),
            nn.Sequential(f.denseblock2, TransitionWithSkip(f.transition2)),
            nn.Sequential(f.denseblock3, TransitionWithSkip(f.transition3)),
            nn.Sequential(f.denseblock4, f.norm5),
        ]
        features = []
        for stage in stages:
            x = stage(x)
            if isinstance(x, (list, tuple)):
                x, skip = x
                features.append(skip)
            else:
                features.append(x)
        return torch.cat([t.flatten(1) for t in features], 1)

torch.manual_seed(0)
m = torchvision.models.densenet121()
assert sum(p.numel() for p in m.parameters()) == 7978856
randomize_and_save("densenet121", m, (2, 3, 64, 64))
torch.manual_seed(1)
randomize_and_save("densenet121_encoder", DenseNetEncoder(growth_rate=32, block_config=(6, 12, 24, 16),
                                                          num_init_features=64), (1, 3, 64, 64))
)PY");

}  // namespace

TEST(DenseNet, ClassifierParameterCountsMatchTorchvision) {
  EXPECT_EQ(models::count_parameters(*make_densenet("densenet121", 1000)), 7978856);
  EXPECT_EQ(models::count_parameters(*make_densenet("densenet169", 1000)), 14149480);
}

TEST(DenseNet, EncoderRegistersNoClassifier) {
  auto enc = make_densenet("densenet121");
  for (const auto& p : enc->named_parameters()) EXPECT_EQ(p.key().find("classifier"), std::string::npos) << p.key();
  EXPECT_EQ(models::count_parameters(*enc), 7978856 - (1024 * 1000 + 1000));
  EXPECT_EQ(models::count_parameters(*make_densenet("densenet169")), 14149480 - (1664 * 1000 + 1000));
  EXPECT_THROW(enc->forward(torch::zeros({1, 3, 64, 64})), core::Error);
}

TEST(DenseNet, ModuleNamesAreTorchvisions) {
  auto net = make_densenet("densenet121", 1000);
  const auto params = net->named_parameters();
  const auto buffers = net->named_buffers();
  for (const char* k : {"features.conv0.weight", "features.norm0.weight", "features.denseblock1.denselayer1.norm1.weight",
                        "features.denseblock1.denselayer1.conv1.weight", "features.denseblock1.denselayer6.norm2.bias",
                        "features.denseblock4.denselayer16.conv2.weight", "features.transition1.norm.weight",
                        "features.transition3.conv.weight", "features.norm5.weight", "classifier.weight", "classifier.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  for (const char* k : {"features.norm0.running_mean", "features.denseblock3.denselayer24.norm1.running_var",
                        "features.transition2.norm.num_batches_tracked", "features.norm5.running_var"})
    EXPECT_TRUE(buffers.contains(k)) << k;
  EXPECT_FALSE(params.contains("features.denseblock1.denselayer7.conv1.weight"));
  EXPECT_FALSE(params.contains("features.transition4.norm.weight"));
  // Dense layer l of block 1 sees 64 + (l - 1) * 32 channels; bottleneck 128; adds 32.
  EXPECT_EQ(params["features.denseblock1.denselayer3.conv1.weight"].sizes(), torch::IntArrayRef({128, 128, 1, 1}));
  EXPECT_EQ(params["features.denseblock1.denselayer3.conv2.weight"].sizes(), torch::IntArrayRef({32, 128, 3, 3}));
  EXPECT_EQ(params["features.transition1.conv.weight"].sizes(), torch::IntArrayRef({128, 256, 1, 1}));
  EXPECT_EQ(params["classifier.weight"].sizes(), torch::IntArrayRef({1000, 1024}));
  for (const auto& p : params)
    if (p.key().find("conv") != std::string::npos) {
      EXPECT_EQ(p.key().substr(p.key().size() - 6), "weight") << p.key();
    }
  // torchvision's initialisation: the classifier's bias is zero.
  EXPECT_EQ(params["classifier.bias"].abs().max().item<float>(), 0.0f);
}

TEST(DenseNet, FeatureShapesAndChannels) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  const std::pair<const char*, std::vector<int64_t>> cases[] = {{"densenet121", {3, 64, 256, 512, 1024, 1024}},
                                                                 {"densenet169", {3, 64, 256, 512, 1280, 1664}}};
  for (const auto& [name, channels] : cases) {
    auto enc = make_densenet(name);
    enc->eval();
    EXPECT_EQ(enc->out_channels(), channels) << name;
    const auto f = enc->features(x);
    ASSERT_EQ(f.size(), 6u) << name;
    EXPECT_TRUE(f[0].is_same(x)) << name;
    for (size_t i = 0; i < f.size(); ++i) {
      const int64_t side = 64 >> i;
      EXPECT_EQ(f[i].sizes(), torch::IntArrayRef({1, channels[i], side, side})) << name << " feature " << i;
    }
    // The skips are taken after the transitions' ReLU: non-negative. The last map (norm5, no
    // ReLU) is not.
    for (size_t i = 1; i < 5; ++i) EXPECT_GE(f[i].min().item<float>(), 0.0f) << name << " feature " << i;
    EXPECT_LT(f[5].min().item<float>(), 0.0f) << name;
  }
}

TEST(DenseNet, ShallowEncoderBuildsOnlyItsStages) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  auto enc = make_densenet("densenet121", 0, 3, 3);
  enc->eval();
  EXPECT_EQ(enc->out_channels(), std::vector<int64_t>({3, 64, 256, 512}));
  const auto params = enc->named_parameters();
  EXPECT_TRUE(params.contains("features.transition1.conv.weight"));
  EXPECT_TRUE(params.contains("features.transition2.norm.weight"));    // map 3 is its ReLU
  EXPECT_FALSE(params.contains("features.transition2.conv.weight"));   // never reached
  for (const auto& p : params) {
    EXPECT_EQ(p.key().find("denseblock3"), std::string::npos) << p.key();
    EXPECT_EQ(p.key().find("norm5"), std::string::npos) << p.key();
  }
  const auto f = enc->features(x);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[3].sizes(), torch::IntArrayRef({2, 512, 8, 8}));
  // The same maps as the full encoder's with the same weights.
  auto full = make_densenet("densenet121");
  full->eval();
  {
    auto source = full->named_parameters();
    for (auto& p : enc->named_parameters()) p.value().copy_(source[p.key()]);
  }
  const auto f_copied = enc->features(x), g = full->features(x);
  for (size_t i = 0; i < f.size(); ++i) EXPECT_TRUE(torch::equal(f_copied[i], g[i])) << "feature " << i;

  auto stem_only = make_densenet("densenet121", 0, 3, 1);
  EXPECT_EQ(stem_only->named_parameters().size(), 3u);  // conv0.weight, norm0.{weight,bias}
  EXPECT_EQ(stem_only->features(x).back().sizes(), torch::IntArrayRef({2, 64, 32, 32}));
  EXPECT_THROW(make_densenet("densenet121", 10, 3, 4), core::Error);  // a classifier needs depth 5
  EXPECT_THROW(make_densenet("densenet121", 0, 3, 6), core::Error);
}

TEST(DenseNet, SingleChannelInput) {
  torch::NoGradGuard no_grad;
  auto enc = make_densenet("densenet121", 0, 1);
  enc->eval();
  EXPECT_EQ(enc->named_parameters()["features.conv0.weight"].sizes(), torch::IntArrayRef({64, 1, 7, 7}));
  EXPECT_EQ(enc->out_channels().front(), 1);
  EXPECT_EQ(enc->features(torch::randn({2, 1, 64, 64})).back().sizes(), torch::IntArrayRef({2, 1024, 2, 2}));
  EXPECT_THROW(make_densenet("densenet121", 0, 0), core::Error);
}

TEST(DenseNet, UnknownNameListsChoices) {
  const auto msg = test::error_of([] { DenseNetOptions::named("densenet201"); });
  EXPECT_NE(msg.find("'densenet201'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("densenet121, densenet169"), std::string::npos) << msg;
}

TEST(DenseNet, RegistryBuildsUNetAndClassifier) {
  torch::NoGradGuard no_grad;
  models::ModelSpec spec;
  spec.encoder = "densenet169";
  spec.in_channels = 1;
  auto unet = models::build_model(spec);
  unet->eval();
  EXPECT_EQ(unet->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
  spec.encoder_depth = 4;
  spec.decoder_channels.clear();
  auto shallow = models::build_model(spec);
  shallow->eval();
  EXPECT_EQ(shallow->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));

  spec = models::ModelSpec();
  spec.arch = "classifier";
  spec.encoder = "densenet121";
  spec.classes = 2;
  spec.dropout = 0.2;
  auto net = models::build_model(spec);
  auto* densenet = dynamic_cast<models::DenseNetImpl*>(net.get());
  ASSERT_NE(densenet, nullptr);
  EXPECT_EQ(densenet->options().dropout, 0.2);
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({2, 3, 64, 64})).sizes(), torch::IntArrayRef({2, 2}));
  EXPECT_EQ(models::count_parameters(*net), 7978856 - 1024 * 998 - 998);
}

TEST(DenseNet, ClassifierForwardAndBackward) {
  auto net = make_densenet("densenet121", 7);
  net->train();
  const auto y = net->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 7}));
  y.sum().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(DenseNet, FoldingKeepsOutputs) {
  torch::manual_seed(3);
  auto net = make_densenet("densenet121", 10);
  test::randomize_batch_norms(*net, {4, 3, 64, 64}, [&](const torch::Tensor& x) { net->forward(x); });
  // norm0, 58 dense layers x 2, 3 transitions, norm5.
  EXPECT_EQ(test::count_batch_norms(*net), 1u + 58u * 2u + 3u + 1u);
  const double diff = test::fold_difference(*net, torch::randn({2, 3, 64, 64}),
                                            [&](const torch::Tensor& x) { return net->forward(x); }, "densenet121");
  EXPECT_LE(diff, 1e-4);
  // Left: the pre-activation norms (norm1 of each dense layer, the transitions', norm5).
  EXPECT_EQ(test::count_batch_norms(*net), 58u + 3u + 1u);
  const auto params = net->named_parameters();
  EXPECT_TRUE(params.contains("features.conv0.bias"));
  EXPECT_TRUE(params.contains("features.denseblock2.denselayer5.conv1.bias"));
  EXPECT_FALSE(params.contains("features.denseblock2.denselayer5.norm2.weight"));
  EXPECT_TRUE(params.contains("features.denseblock2.denselayer5.norm1.weight"));
  EXPECT_FALSE(params.contains("features.denseblock2.denselayer5.conv2.bias"));

  torch::manual_seed(4);
  models::UNet unet("densenet121");
  test::randomize_batch_norms(*unet, {2, 3, 64, 64}, [&](const torch::Tensor& x) { unet->forward(x); });
  const double unet_diff = test::fold_difference(*unet, torch::randn({1, 3, 64, 64}),
                                                 [&](const torch::Tensor& x) { return unet->forward(x); },
                                                 "unet-densenet121");
  EXPECT_LE(unet_diff, 1e-4);
}

class DenseNetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> DenseNetParity::reference_;

TEST_F(DenseNetParity, DenseNet121ClassifierMatchesTorchvision) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "densenet121";
  spec.classes = 1000;
  auto net = models::build_model(spec);
  test::expect_parity(*reference_, "densenet121", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(DenseNetParity, DenseNet121EncoderMatchesSegmentationModels) {
  auto enc = models::build_encoder("densenet121");
  test::expect_parity(*reference_, "densenet121_encoder", *enc,
                      [&](const torch::Tensor& x) { return test::flat_features(enc->features(x)); });
}

// VGG16 / VGG16-BN encoders and classifiers (src/ptx/models/encoders/vgg): torchvision's parameter
// counts and module names, segmentation_models' VGGEncoder maps (the first is not the input),
// folding, and outputs equal to torchvision's and segmentation_models' (restated in Python below).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "encoder_test_support.h"
#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/vgg.h"
#include "ptx/models/registry.h"
#include "python_reference.h"

using namespace ptx;
using models::VGG;
using models::VGGOptions;

namespace {

VGG make_vgg(const std::string& name, int64_t num_classes = 0, int64_t in_channels = 3, int64_t depth = 5) {
  auto o = VGGOptions::named(name);
  o.num_classes = num_classes;
  o.in_channels = in_channels;
  o.depth = depth;
  return VGG(o);
}

// torchvision's vgg16 (its reference file is ~550 MB: written once per suite run), and
// segmentation_models' VGGEncoder (its get_stages and forward restated) on vgg16_bn.
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
from torchvision.models.vgg import VGG, make_layers, cfgs

class VGGEncoder(VGG):
    def __init__(self, config, batch_norm=False):
        super().__init__(make_layers(config, batch_norm=batch_norm))
        del self.classifier
    def get_stages(self):
        stages = []
        stage_modules = []
        for module in self.features:
            if isinstance(module, nn.MaxPool2d):
                stages.append(nn.Sequential(*stage_modules))
                stage_modules = []
            stage_modules.append(module)
        stages.append(nn.Sequential(*stage_modules))
        return stages
    def forward(self, x):
        features = []
        for stage in self.get_stages():
            x = stage(x)
            features.append(x)
        return torch.cat([f.flatten(1) for f in features], 1)

torch.manual_seed(0)
randomize_and_save("vgg16_bn_encoder", VGGEncoder(cfgs["D"], batch_norm=True), (1, 3, 64, 64))
torch.manual_seed(1)
m = torchvision.models.vgg16()
assert sum(p.numel() for p in m.parameters()) == 138357544
randomize_and_save("vgg16", m, (2, 3, 64, 64))
)PY");

}  // namespace

TEST(VGG, ClassifierParameterCountsMatchTorchvision) {
  EXPECT_EQ(models::count_parameters(*make_vgg("vgg16", 1000)), 138357544);
  EXPECT_EQ(models::count_parameters(*make_vgg("vgg16_bn", 1000)), 138365992);
}

TEST(VGG, EncoderRegistersNoClassifier) {
  auto enc = make_vgg("vgg16");
  for (const auto& p : enc->named_parameters()) EXPECT_EQ(p.key().rfind("features.", 0), 0u) << p.key();
  EXPECT_EQ(models::count_parameters(*enc), 14714688);
  EXPECT_EQ(models::count_parameters(*make_vgg("vgg16_bn")), 14723136);
  EXPECT_THROW(enc->forward(torch::zeros({1, 3, 64, 64})), core::Error);
}

TEST(VGG, ModuleNamesAreTorchvisions) {
  auto net = make_vgg("vgg16", 1000);
  const auto params = net->named_parameters();
  // vgg16: conv, ReLU pairs and pools; the last convolution is features.28, the last pool 30.
  for (const char* k : {"features.0.weight", "features.0.bias", "features.2.weight", "features.5.weight",
                        "features.28.weight", "classifier.0.weight", "classifier.3.weight", "classifier.6.weight",
                        "classifier.6.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  EXPECT_EQ(params.size(), 13u * 2u + 3u * 2u);
  EXPECT_EQ(params["features.28.weight"].sizes(), torch::IntArrayRef({512, 512, 3, 3}));
  EXPECT_EQ(params["classifier.0.weight"].sizes(), torch::IntArrayRef({4096, 512 * 7 * 7}));
  EXPECT_EQ(net->named_children()["features"]->children().size(), 31u);
  EXPECT_TRUE(net->named_buffers().is_empty());

  auto bn = make_vgg("vgg16_bn", 1000);
  const auto bn_params = bn->named_parameters();
  const auto bn_buffers = bn->named_buffers();
  // vgg16_bn: conv, BatchNorm, ReLU triples; the last convolution is features.40, its norm 41.
  for (const char* k : {"features.0.weight", "features.0.bias", "features.1.weight", "features.3.weight",
                        "features.7.weight", "features.40.weight", "features.41.bias"})
    EXPECT_TRUE(bn_params.contains(k)) << k;
  EXPECT_TRUE(bn_buffers.contains("features.1.running_mean"));
  EXPECT_TRUE(bn_buffers.contains("features.41.num_batches_tracked"));
  EXPECT_EQ(bn->named_children()["features"]->children().size(), 44u);
  // torchvision's initialisation: zero biases, N(0, 0.01) linear weights.
  EXPECT_EQ(params["features.0.bias"].abs().max().item<float>(), 0.0f);
  EXPECT_NEAR(params["classifier.3.weight"].std().item<double>(), 0.01, 1e-3);
}

TEST(VGG, FeatureMapsAreSegmentationModels) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> channels{64, 128, 256, 512, 512, 512};
  for (const char* name : {"vgg16", "vgg16_bn"}) {
    auto enc = make_vgg(name);
    enc->eval();
    EXPECT_EQ(enc->out_channels(), channels) << name;
    const auto x = torch::randn({1, 3, 64, 64});
    const auto f = enc->features(x);
    ASSERT_EQ(f.size(), 6u) << name;
    // Map 0 is the first stage at the input's resolution, not the input.
    EXPECT_FALSE(f[0].is_same(x));
    for (size_t i = 0; i < f.size(); ++i) {
      const int64_t side = 64 >> i;
      EXPECT_EQ(f[i].sizes(), torch::IntArrayRef({1, channels[i], side, side})) << name << " feature " << i;
    }
    // Map 5 is map 4 max-pooled, nothing more.
    EXPECT_TRUE(torch::equal(f[5], torch::max_pool2d(f[4], {2, 2}, {2, 2})));
  }
}

TEST(VGG, ShallowEncoderBuildsOnlyItsStages) {
  torch::NoGradGuard no_grad;
  auto enc = make_vgg("vgg16", 0, 3, 2);
  enc->eval();
  EXPECT_EQ(enc->out_channels(), std::vector<int64_t>({64, 128, 256}));
  // conv 64 x 2, pool, conv 128 x 2, pool, conv 256 x 3, with their ReLUs: 16 modules, no pool after.
  EXPECT_EQ(enc->named_children()["features"]->children().size(), 16u);
  EXPECT_EQ(models::count_parameters(*enc), 1735488);
  const auto f = enc->features(torch::randn({2, 3, 64, 64}));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[2].sizes(), torch::IntArrayRef({2, 256, 16, 16}));
  auto one = make_vgg("vgg16_bn", 0, 3, 1);
  EXPECT_EQ(one->out_channels(), std::vector<int64_t>({64, 128}));
  EXPECT_EQ(one->features(torch::randn({1, 3, 32, 32})).back().sizes(), torch::IntArrayRef({1, 128, 16, 16}));
  EXPECT_THROW(make_vgg("vgg16", 10, 3, 4), core::Error);  // a classifier needs depth 5
  EXPECT_THROW(make_vgg("vgg16", 0, 3, 6), core::Error);
}

TEST(VGG, SingleChannelInput) {
  torch::NoGradGuard no_grad;
  auto enc = make_vgg("vgg16_bn", 0, 1);
  enc->eval();
  EXPECT_EQ(enc->named_parameters()["features.0.weight"].sizes(), torch::IntArrayRef({64, 1, 3, 3}));
  EXPECT_EQ(enc->features(torch::randn({2, 1, 64, 64})).back().sizes(), torch::IntArrayRef({2, 512, 2, 2}));
  EXPECT_THROW(make_vgg("vgg16", 0, 0), core::Error);
}

TEST(VGG, UnknownNameListsChoices) {
  const auto msg = test::error_of([] { VGGOptions::named("vgg19"); });
  EXPECT_NE(msg.find("'vgg19'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("vgg16, vgg16_bn"), std::string::npos) << msg;
}

TEST(VGG, RegistryBuildsUNetAndClassifier) {
  torch::NoGradGuard no_grad;
  models::ModelSpec spec;
  spec.encoder = "vgg16_bn";
  spec.in_channels = 1;
  auto unet = models::build_model(spec);
  unet->eval();
  EXPECT_EQ(unet->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));

  spec = models::ModelSpec();
  spec.arch = "classifier";
  spec.encoder = "vgg16";
  spec.classes = 2;
  spec.dropout = 0.25;  // sets p of torchvision's two Dropout layers
  auto net = models::build_model(spec);
  auto* vgg = dynamic_cast<models::VGGImpl*>(net.get());
  ASSERT_NE(vgg, nullptr);
  EXPECT_EQ(vgg->options().dropout, 0.25);
  size_t dropouts = 0;
  for (auto& m : net->modules()) {
    if (auto* d = m->as<torch::nn::Dropout>()) {
      EXPECT_EQ(d->options.p(), 0.25);
      ++dropouts;
    }
  }
  EXPECT_EQ(dropouts, 2u);
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({1, 3, 64, 64})).sizes(), torch::IntArrayRef({1, 2}));
  EXPECT_EQ(VGGOptions::named("vgg16").dropout, 0.5);  // torchvision's default when built directly
}

TEST(VGG, ClassifierForwardAndBackward) {
  auto net = make_vgg("vgg16_bn", 7, 1);
  net->train();
  const auto y = net->forward(torch::randn({2, 1, 64, 64}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 7}));
  y.sum().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(VGG, FoldingKeepsOutputs) {
  torch::manual_seed(3);
  auto o = VGGOptions::named("vgg16_bn");
  o.num_classes = 10;
  VGG net(o);
  test::randomize_batch_norms(*net, {4, 3, 64, 64}, [&](const torch::Tensor& x) { net->forward(x); });
  EXPECT_EQ(test::count_batch_norms(*net), 13u);
  const double diff = test::fold_difference(*net, torch::randn({2, 3, 64, 64}),
                                            [&](const torch::Tensor& x) { return net->forward(x); }, "vgg16_bn");
  EXPECT_LE(diff, 1e-4);
  EXPECT_EQ(test::count_batch_norms(*net), 0u);
  EXPECT_TRUE(net->named_buffers().is_empty());

  // The maps keep their places: features() still splits before each pool.
  torch::manual_seed(4);
  auto enc = make_vgg("vgg16_bn");
  test::randomize_batch_norms(*enc, {2, 3, 64, 64}, [&](const torch::Tensor& x) { enc->features(x); });
  const auto x = torch::randn({1, 3, 64, 64});
  const double enc_diff = test::fold_difference(*enc, x, [&](const torch::Tensor& in) {
    return test::flat_features(enc->features(in));
  }, "vgg16_bn encoder");
  EXPECT_LE(enc_diff, 1e-4);

  // vgg16 has no batch norm: folding changes nothing.
  auto plain = make_vgg("vgg16");
  const auto before = models::count_parameters(*plain);
  plain->fold_batch_norm();
  EXPECT_EQ(models::count_parameters(*plain), before);
}

class VGGParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> VGGParity::reference_;

TEST_F(VGGParity, VGG16ClassifierMatchesTorchvision) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "vgg16";
  spec.classes = 1000;
  auto net = models::build_model(spec);
  test::expect_parity(*reference_, "vgg16", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(VGGParity, VGG16BNEncoderMatchesSegmentationModels) {
  auto enc = models::build_encoder("vgg16_bn");
  test::expect_parity(*reference_, "vgg16_bn_encoder", *enc,
                      [&](const torch::Tensor& x) { return test::flat_features(enc->features(x)); });
}

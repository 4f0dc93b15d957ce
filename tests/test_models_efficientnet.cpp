// EfficientNet B0..B4 (src/ptx/models/encoders/efficientnet): torchvision's parameter counts,
// module names and outputs (against Debian's python3-torchvision, see python_reference.h), the
// segmentation_models encoder maps, stochastic depth, batch-norm folding and the registry.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/efficientnet.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using models::EfficientNet;
using models::EfficientNetOptions;

namespace {

EfficientNet make_efficientnet(const std::string& name, int64_t num_classes = 0, int64_t in_channels = 3,
                               int64_t depth = 5) {
  auto o = EfficientNetOptions::named(name);
  o.num_classes = num_classes;
  o.in_channels = in_channels;
  o.depth = depth;
  return EfficientNet(o);
}

// features(x) without the input, each map flattened, concatenated: N x (sum of C*H*W).
torch::Tensor flat_features(models::EncoderImpl& encoder, const torch::Tensor& x) {
  auto f = encoder.features(x);
  std::vector<torch::Tensor> flat;
  for (size_t i = 1; i < f.size(); ++i) flat.push_back(f[i].flatten(1));
  return torch::cat(flat, 1);
}

// Random batch-norm affine weights and running statistics (averaged over three training batches).
void randomize_batch_norms(models::EfficientNetImpl& net, const torch::IntArrayRef batch_shape) {
  torch::NoGradGuard no_grad;
  for (auto& m : net.modules()) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
      bn->options.momentum(c10::nullopt);
    }
  }
  net.train();
  for (int i = 0; i < 3; ++i) {
    const auto x = torch::randn(batch_shape);
    if (net.options().num_classes > 0)
      net.forward(x);  // the head's batch norm (features.8.1) too
    else
      net.features(x);
  }
  net.eval();
}

size_t count_batch_norms(torch::nn::Module& m) {
  size_t n = 0;
  for (auto& c : m.modules())
    if (c->as<torch::nn::BatchNorm2d>()) ++n;
  return n;
}

// torchvision's efficientnet_b0 classifier, and its features.0..7 as segmentation_models'
// timm-efficientnet encoder groups them (maps after features.0, .2, .3, .5 and .7), flattened and
// concatenated so that one output checks every map.
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*list(torchvision.models.efficientnet_b0().features)[:8])
    def forward(self, x):
        maps = []
        for i, f in enumerate(self.features):
            x = f(x)
            if i in (0, 2, 3, 5, 7):
                maps.append(x.flatten(1))
        return torch.cat(maps, 1)

torch.manual_seed(0)
m = torchvision.models.efficientnet_b0()
assert sum(p.numel() for p in m.parameters()) == 5288548
randomize_and_save("efficientnet_b0", m)
torch.manual_seed(1)
randomize_and_save("efficientnet_b0_encoder", Encoder())
)PY");

}  // namespace

class EfficientNetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> EfficientNetParity::reference_;

TEST_F(EfficientNetParity, B0ClassifierMatchesTorchvision) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "efficientnet_b0";
  spec.classes = 1000;
  auto net = models::build_model(spec);
  test::expect_parity(*reference_, "efficientnet_b0", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(EfficientNetParity, B0EncoderMapsMatchTorchvisionStages) {
  auto enc = make_efficientnet("efficientnet_b0");
  test::expect_parity(*reference_, "efficientnet_b0_encoder", *enc,
                      [&](const torch::Tensor& x) { return flat_features(*enc, x); });
}

TEST(EfficientNet, ClassifierParameterCountsMatchTorchvision) {
  const std::pair<const char*, int64_t> counts[] = {{"efficientnet_b0", 5288548},
                                                    {"efficientnet_b1", 7794184},
                                                    {"efficientnet_b2", 9109994},
                                                    {"efficientnet_b3", 12233232},
                                                    {"efficientnet_b4", 19341616}};
  for (const auto& [name, count] : counts)
    EXPECT_EQ(models::count_parameters(*make_efficientnet(name, 1000)), count) << name;
}

TEST(EfficientNet, EncoderRegistersNoHeadNorClassifier) {
  // torchvision's counts without features.8 (head conv + BN) and the classifier.
  const std::pair<const char*, int64_t> counts[] = {{"efficientnet_b0", 3595388},
                                                    {"efficientnet_b1", 6101024},
                                                    {"efficientnet_b2", 7202562},
                                                    {"efficientnet_b3", 10103336},
                                                    {"efficientnet_b4", 16742216}};
  for (const auto& [name, count] : counts) {
    auto enc = make_efficientnet(name);
    EXPECT_EQ(models::count_parameters(*enc), count) << name;
    for (const auto& p : enc->named_parameters()) {
      EXPECT_NE(p.key().rfind("classifier.", 0), 0u) << p.key();
      EXPECT_NE(p.key().rfind("features.8.", 0), 0u) << p.key();
    }
    for (const auto& b : enc->named_buffers()) EXPECT_NE(b.key().rfind("features.8.", 0), 0u) << b.key();
  }
  auto enc = make_efficientnet("efficientnet_b0");
  EXPECT_THROW(enc->forward(torch::zeros({1, 3, 64, 64})), core::Error);
}

TEST(EfficientNet, ModuleNamesAreTorchvisions) {
  auto net = make_efficientnet("efficientnet_b0", 1000);
  const auto params = net->named_parameters();
  const auto buffers = net->named_buffers();
  for (const char* k :
       {"features.0.0.weight", "features.0.1.weight", "features.1.0.block.0.0.weight",
        "features.1.0.block.1.fc1.weight", "features.1.0.block.1.fc2.bias", "features.1.0.block.2.0.weight",
        "features.2.0.block.0.0.weight", "features.2.0.block.1.0.weight", "features.2.0.block.2.fc1.weight",
        "features.2.0.block.3.1.bias", "features.7.0.block.3.0.weight", "features.8.0.weight", "features.8.1.bias",
        "classifier.1.weight", "classifier.1.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  for (const char* k : {"features.0.1.running_mean", "features.6.3.block.1.1.running_var",
                        "features.8.1.num_batches_tracked"})
    EXPECT_TRUE(buffers.contains(k)) << k;
  EXPECT_FALSE(params.contains("features.1.0.block.3.0.weight"));  // expand ratio 1: no expand conv
  EXPECT_FALSE(params.contains("features.7.1.block.0.0.weight"));  // b0's last stage has one block
  // Shapes: depthwise 5x5 in stage 3, squeeze channels = block input / 4, head to 1280.
  EXPECT_EQ(params["features.3.0.block.1.0.weight"].sizes(), torch::IntArrayRef({144, 1, 5, 5}));
  EXPECT_EQ(params["features.3.0.block.2.fc1.weight"].sizes(), torch::IntArrayRef({6, 144, 1, 1}));
  EXPECT_EQ(params["features.3.1.block.2.fc1.weight"].sizes(), torch::IntArrayRef({10, 240, 1, 1}));
  EXPECT_EQ(params["features.8.0.weight"].sizes(), torch::IntArrayRef({1280, 320, 1, 1}));
  EXPECT_EQ(params["classifier.1.weight"].sizes(), torch::IntArrayRef({1000, 1280}));
  // Only the squeeze-excitation convolutions have a bias: the others are followed by batch norm.
  for (const auto& p : params) {
    const auto& k = p.key();
    if (k.size() > 7 && k.substr(k.size() - 7) == ".0.bias") ADD_FAILURE() << "bias before batch norm: " << k;
  }
  for (auto& m : net->modules()) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-5);
      EXPECT_DOUBLE_EQ(bn->options.momentum().value(), 0.1);
    }
  }
  // b4: 1.4x width, 1.8x depth (ceil): stages of 2, 4, 4, 6, 6, 8, 2 blocks, head 1792.
  auto b4 = make_efficientnet("efficientnet_b4", 10);
  const auto p4 = b4->named_parameters();
  EXPECT_TRUE(p4.contains("features.6.7.block.3.0.weight"));
  EXPECT_FALSE(p4.contains("features.6.8.block.3.0.weight"));
  EXPECT_EQ(p4["features.8.0.weight"].sizes(), torch::IntArrayRef({1792, 448, 1, 1}));
  EXPECT_DOUBLE_EQ(b4->options().dropout, 0.4);
}

TEST(EfficientNet, FeatureShapesAndChannels) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  const std::pair<const char*, std::vector<int64_t>> cases[] = {
      {"efficientnet_b0", {3, 32, 24, 40, 112, 320}}, {"efficientnet_b1", {3, 32, 24, 40, 112, 320}},
      {"efficientnet_b2", {3, 32, 24, 48, 120, 352}}, {"efficientnet_b3", {3, 40, 32, 48, 136, 384}},
      {"efficientnet_b4", {3, 48, 32, 56, 160, 448}}};
  for (const auto& [name, channels] : cases) {
    auto enc = make_efficientnet(name);
    enc->eval();
    EXPECT_EQ(enc->out_channels(), channels) << name;
    EXPECT_EQ(enc->depth(), 5);
    const auto f = enc->features(x);
    ASSERT_EQ(f.size(), 6u) << name;
    EXPECT_TRUE(f[0].is_same(x)) << name;
    for (size_t i = 0; i < f.size(); ++i) {
      const int64_t side = 64 >> i;
      EXPECT_EQ(f[i].sizes(), torch::IntArrayRef({2, channels[i], side, side})) << name << " map " << i;
    }
  }
}

TEST(EfficientNet, ShallowEncoderBuildsOnlyItsStages) {
  auto enc = make_efficientnet("efficientnet_b0", 0, 3, 3);
  EXPECT_EQ(enc->out_channels(), std::vector<int64_t>({3, 32, 24, 40}));
  std::set<std::string> stages;
  for (const auto& p : enc->named_parameters()) stages.insert(p.key().substr(0, p.key().find('.', 9)));
  EXPECT_EQ(stages, std::set<std::string>({"features.0", "features.1", "features.2", "features.3"}));
  torch::NoGradGuard no_grad;
  enc->eval();
  const auto f = enc->features(torch::randn({1, 3, 64, 64}));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[2].sizes(), torch::IntArrayRef({1, 24, 16, 16}));
  EXPECT_EQ(f[3].sizes(), torch::IntArrayRef({1, 40, 8, 8}));
  // Depth 1: the stem alone.
  auto stem = make_efficientnet("efficientnet_b2", 0, 3, 1);
  EXPECT_EQ(stem->out_channels(), std::vector<int64_t>({3, 32}));
  EXPECT_EQ(stem->named_parameters().size(), 3u);  // conv weight, BN weight and bias
  stem->eval();
  EXPECT_EQ(stem->features(torch::randn({1, 3, 32, 32})).back().sizes(), torch::IntArrayRef({1, 32, 16, 16}));
  EXPECT_THROW(make_efficientnet("efficientnet_b0", 10, 3, 3), core::Error);  // a classifier needs depth 5
  EXPECT_THROW(make_efficientnet("efficientnet_b0", 0, 3, 6), core::Error);
  EXPECT_THROW(make_efficientnet("efficientnet_b0", 0, 3, 0), core::Error);
}

TEST(EfficientNet, SingleChannelInput) {
  torch::NoGradGuard no_grad;
  auto enc = make_efficientnet("efficientnet_b1", 0, 1);
  enc->eval();
  EXPECT_EQ(enc->named_parameters()["features.0.0.weight"].sizes(), torch::IntArrayRef({32, 1, 3, 3}));
  EXPECT_EQ(enc->out_channels().front(), 1);
  const auto f = enc->features(torch::randn({2, 1, 64, 64}));
  EXPECT_EQ(f.back().sizes(), torch::IntArrayRef({2, 320, 2, 2}));
  EXPECT_THROW(make_efficientnet("efficientnet_b0", 0, 0), core::Error);
}

TEST(EfficientNet, UnknownNameListsChoices) {
  const auto msg = test::error_of([] { EfficientNetOptions::named("efficientnet_b9"); });
  EXPECT_NE(msg.find("efficientnet_b9"), std::string::npos) << msg;
  EXPECT_NE(msg.find("efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4"),
            std::string::npos)
      << msg;
}

TEST(EfficientNet, StochasticDepthScheduleAndResiduals) {
  auto net = make_efficientnet("efficientnet_b0", 10);
  auto blocks = net->named_modules();
  // 16 blocks; block k drops its branch with probability 0.2 * k / 16.
  auto block = [&](const std::string& name) -> models::MBConvImpl& {
    auto m = blocks[name];
    EXPECT_NE(m, nullptr) << name;
    return *m->as<models::MBConvImpl>();
  };
  EXPECT_DOUBLE_EQ(block("features.1.0").stochastic_depth_prob(), 0.0);
  EXPECT_DOUBLE_EQ(block("features.2.1").stochastic_depth_prob(), 0.2 * 2 / 16);
  EXPECT_DOUBLE_EQ(block("features.7.0").stochastic_depth_prob(), 0.2 * 15 / 16);
  EXPECT_FALSE(block("features.1.0").residual());  // 32 -> 16
  EXPECT_FALSE(block("features.2.0").residual());  // stride 2
  EXPECT_TRUE(block("features.2.1").residual());
  EXPECT_FALSE(block("features.5.0").residual());  // stride 1 but 80 -> 112
  EXPECT_TRUE(block("features.6.3").residual());
  // The schedule counts the whole network's blocks even when the encoder is shallow.
  auto shallow = make_efficientnet("efficientnet_b0", 0, 3, 2);
  auto* b21 = shallow->named_modules()["features.2.1"]->as<models::MBConvImpl>();
  ASSERT_NE(b21, nullptr);
  EXPECT_DOUBLE_EQ(b21->stochastic_depth_prob(), 0.2 * 2 / 16);
}

TEST(EfficientNet, StochasticDepthOnlyInTraining) {
  torch::manual_seed(3);
  auto enc = make_efficientnet("efficientnet_b0");
  randomize_batch_norms(*enc, {4, 3, 32, 32});
  const auto x = torch::randn({8, 3, 32, 32});
  torch::NoGradGuard no_grad;
  // Training mode with the batch norms in eval: only stochastic depth is random.
  enc->train();
  for (auto& m : enc->modules())
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) bn->eval();
  const auto a = enc->features(x).back(), b = enc->features(x).back();
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3) << "stochastic depth inactive in training";
  enc->eval();
  const auto c = enc->features(x).back(), d = enc->features(x).back();
  EXPECT_TRUE(torch::equal(c, d));
  EXPECT_FALSE(torch::equal(a, c));
}

TEST(EfficientNet, TrainsWithInPlaceActivations) {
  torch::manual_seed(2);
  auto net = make_efficientnet("efficientnet_b0", 3);
  net->train();
  const auto x = torch::randn({2, 3, 32, 32});
  const auto y = net->forward(x);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 3}));
  torch::nn::functional::cross_entropy(y, torch::tensor({0, 2})).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  EXPECT_GT(net->named_parameters()["features.0.0.weight"].grad().abs().sum().item<double>(), 0.0);
  // The gradient equals the one of an out-of-place computation: compare a block's input gradient
  // with autograd's numerical check on a tiny double-precision block.
  torch::manual_seed(4);
  models::MBConv block(8, 8, 6, 3, 1, 0.0);
  block->to(torch::kDouble);
  block->eval();
  const auto in = torch::randn({1, 8, 5, 5}, torch::dtype(torch::kDouble).requires_grad(true));
  const auto out = block(in);
  const auto g = torch::randn_like(out);
  const auto grad = torch::autograd::grad({out}, {in}, {g})[0];
  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  for (int64_t i : {0, 37, 123, 199}) {
    auto plus = in.detach().clone(), minus = in.detach().clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    const double numeric = ((block(plus) - block(minus)) * g).sum().item<double>() / (2 * eps);
    EXPECT_NEAR(grad.view(-1)[i].item<double>(), numeric, 1e-6) << i;
  }
}

TEST(EfficientNet, FoldingKeepsOutputs) {
  torch::manual_seed(5);
  auto net = make_efficientnet("efficientnet_b0", 10);
  randomize_batch_norms(*net, {4, 3, 64, 64});
  EXPECT_EQ(count_batch_norms(*net), 1u + 3u * 16u - 1u + 1u);  // stem, 3 per block but the first, head
  const auto x = torch::randn({2, 3, 64, 64});
  torch::Tensor before, before_maps;
  {
    torch::NoGradGuard no_grad;
    before = net->forward(x);
    before_maps = flat_features(*net, x);
  }
  const auto params_before = models::count_parameters(*net);
  models::prepare_for_inference(*net, /*channels_last=*/false);
  EXPECT_EQ(count_batch_norms(*net), 0u);
  for (const auto& b : net->named_buffers()) ADD_FAILURE() << "buffer left after folding: " << b.key();
  EXPECT_TRUE(net->named_parameters()["features.2.0.block.1.0.bias"].defined());
  EXPECT_LT(models::count_parameters(*net), params_before);
  {
    c10::InferenceMode inference;
    const auto after = net->forward(x);
    const double diff = (after - before).abs().max().item<double>();
    const double diff_maps = (flat_features(*net, x) - before_maps).abs().max().item<double>();
    std::cout << "[ fold     ] efficientnet_b0 max |folded - plain| = " << diff << " (maps " << diff_maps
              << ", output scale " << before.abs().max().item<double>() << ")\n";
    EXPECT_LE(diff, 1e-4);
    EXPECT_LE(diff_maps, 1e-4);
  }
  // Channels-last on top, and folding twice changes nothing.
  models::to_channels_last(*net);
  {
    c10::InferenceMode inference;
    const auto after = net->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_LE((after - before).abs().max().item<double>(), 1e-4);
  }
  const auto count = models::count_parameters(*net);
  net->fold_batch_norm();
  EXPECT_EQ(models::count_parameters(*net), count);
}

TEST(EfficientNet, FoldingKeepsUNetOutputs) {
  torch::manual_seed(6);
  models::ModelSpec spec;
  spec.encoder = "efficientnet_b1";
  spec.in_channels = 1;
  auto unet = models::build_model(spec);
  {
    torch::NoGradGuard no_grad;
    for (auto& m : unet->modules()) {
      if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        bn->weight.uniform_(0.5, 1.5);
        bn->bias.uniform_(-0.2, 0.2);
        bn->options.momentum(c10::nullopt);
      }
    }
    unet->train();
    for (int i = 0; i < 3; ++i) unet->forward(torch::randn({4, 1, 64, 64}));
  }
  unet->eval();
  const auto x = torch::randn({1, 1, 64, 64});
  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = unet->forward(x);
  }
  models::prepare_for_inference(*unet);  // folded, channels-last
  EXPECT_EQ(count_batch_norms(*unet), 0u);
  c10::InferenceMode inference;
  const double diff =
      (unet->forward(x.contiguous(at::MemoryFormat::ChannelsLast)) - before).abs().max().item<double>();
  std::cout << "[ fold     ] unet-efficientnet_b1 max |folded - plain| = " << diff << " (output scale "
            << before.abs().max().item<double>() << ")\n";
  EXPECT_LE(diff, 1e-4);
}

TEST(EfficientNet, RegistryBuildsUNetAndClassifier) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  models::ModelSpec spec;
  spec.arch = "unet";
  spec.encoder = "efficientnet_b0";
  auto unet = models::build_model(spec);
  unet->eval();
  EXPECT_EQ(unet->forward(x).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
  EXPECT_TRUE(unet->named_parameters().contains("encoder.features.7.0.block.3.0.weight"));
  EXPECT_FALSE(unet->named_parameters().contains("encoder.features.8.0.weight"));

  spec.encoder_depth = 3;
  spec.in_channels = 1;
  auto shallow = models::build_model(spec);
  shallow->eval();
  EXPECT_EQ(shallow->forward(torch::randn({1, 1, 32, 32})).sizes(), torch::IntArrayRef({1, 1, 32, 32}));

  spec = models::ModelSpec();
  spec.arch = "classifier";
  spec.encoder = "efficientnet_b3";
  spec.classes = 2;
  auto classifier = models::build_model(spec);
  classifier->eval();
  EXPECT_EQ(classifier->forward(x).sizes(), torch::IntArrayRef({1, 2}));
  auto* b3 = dynamic_cast<models::EfficientNetImpl*>(classifier.get());
  ASSERT_NE(b3, nullptr);
  EXPECT_EQ(b3->encoder_name(), "efficientnet_b3");
  EXPECT_DOUBLE_EQ(b3->options().dropout, 0.3);  // the variant's own
  spec.dropout = 0.5;
  auto with_dropout = models::build_model(spec);
  EXPECT_DOUBLE_EQ(dynamic_cast<models::EfficientNetImpl&>(*with_dropout).options().dropout, 0.5);

  const auto names = models::encoder_names();
  for (const char* n : {"efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

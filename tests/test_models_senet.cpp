// SE-ResNeXt encoders and classifiers (src/ptx/models/encoders/senet): Cadene's parameter counts
// and module names, feature maps, folding, and outputs equal to Cadene's network and to
// segmentation_models' SENetEncoder (restated in Python below: neither is packaged for Debian).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "encoder_test_support.h"
#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/senet.h"
#include "ptx/models/registry.h"
#include "python_reference.h"

using namespace ptx;
using models::SENet;
using models::SENetOptions;

namespace {

SENet make_senet(const std::string& name, int64_t num_classes = 0, int64_t in_channels = 3, int64_t depth = 5) {
  auto o = SENetOptions::named(name);
  o.num_classes = num_classes;
  o.in_channels = in_channels;
  o.depth = depth;
  return SENet(o);
}

// Cadene's pretrainedmodels SENet / SEResNeXtBottleneck / SEModule for the se_resnext
// configuration (input_3x3 False, 1x1 downsample, no dropout), restated with its module names and
// forward code; SENetEncoder as segmentation_models defines its stages.
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
import math
from collections import OrderedDict

class SEModule(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0)
        self.sigmoid = nn.Sigmoid()
    def forward(self, x):
        module_input = x
        x = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return module_input * x

class SEResNeXtBottleneck(nn.Module):
    expansion = 4
    def __init__(self, inplanes, planes, groups, reduction, stride=1, downsample=None, base_width=4):
        super().__init__()
        width = math.floor(planes * (base_width / 64)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, kernel_size=1, bias=False, stride=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(planes * 4, reduction=reduction)
        self.downsample = downsample
        self.stride = stride
    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out = self.se_module(out) + residual
        return self.relu(out)

class SENet(nn.Module):
    def __init__(self, block, layers, groups, reduction, dropout_p=None, inplanes=64,
                 downsample_kernel_size=1, downsample_padding=0, num_classes=1000):
        super().__init__()
        self.inplanes = inplanes
        self.layer0 = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, inplanes, kernel_size=7, stride=2, padding=3, bias=False)),
            ("bn1", nn.BatchNorm2d(inplanes)),
            ("relu1", nn.ReLU(inplace=True)),
            ("pool", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ]))
        self.layer1 = self._make_layer(block, 64, layers[0], groups, reduction, 1, 1, 0)
        self.layer2 = self._make_layer(block, 128, layers[1], groups, reduction, 2, downsample_kernel_size, downsample_padding)
        self.layer3 = self._make_layer(block, 256, layers[2], groups, reduction, 2, downsample_kernel_size, downsample_padding)
        self.layer4 = self._make_layer(block, 512, layers[3], groups, reduction, 2, downsample_kernel_size, downsample_padding)
        self.avg_pool = nn.AvgPool2d(7, stride=1)
        self.dropout = nn.Dropout(dropout_p) if dropout_p is not None else None
        self.last_linear = nn.Linear(512 * block.expansion, num_classes)
    def _make_layer(self, block, planes, blocks, groups, reduction, stride, kernel, padding):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=kernel, stride=stride,
                          padding=padding, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, groups, reduction, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups, reduction))
        return nn.Sequential(*layers)
    def features(self, x):
        return self.layer4(self.layer3(self.layer2(self.layer1(self.layer0(x)))))
    def logits(self, x):
        x = self.avg_pool(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.last_linear(x.view(x.size(0), -1))
    def forward(self, x):
        return self.logits(self.features(x))

def se_resnext50_32x4d(cls=SENet):
    return cls(SEResNeXtBottleneck, [3, 4, 6, 3], groups=32, reduction=16)

class SENetEncoder(SENet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.last_linear
        del self.avg_pool
    def forward(self, x):
        stages = [nn.Identity(), self.layer0[:-1], nn.Sequential(self.layer0[-1], self.layer1),
                  self.layer2, self.layer3, self.layer4]
        features = []
        for stage in stages:
            x = stage(x)
            features.append(x)
        return torch.cat([f.flatten(1) for f in features], 1)

torch.manual_seed(0)
m = se_resnext50_32x4d()
assert sum(p.numel() for p in m.parameters()) == 27559896

# The encoder on 70 x 70: an odd stem map (35), which the unpadded ceil-mode pool takes to 17
# (a pool with padding 1 would give 18).
encoder = se_resnext50_32x4d(SENetEncoder)
randomize_and_save("se_resnext50_encoder", encoder, (1, 3, 70, 70))

# The classifier on 224 x 224, the size Cadene's AvgPool2d(7) is made for, with the encoder's
# random weights and batch-norm statistics (three training batches at 224 take too long).
missing, unexpected = m.load_state_dict(encoder.state_dict(), strict=False)
assert missing == ["last_linear.weight", "last_linear.bias"] and not unexpected, (missing, unexpected)
m.eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    y = m(x)
d = dict(m.state_dict())
d["__input__"] = x
d["__output__"] = y
torch.save(d, OUT + "/se_resnext50_32x4d.pt")
)PY");

}  // namespace

TEST(SENet, ClassifierParameterCountsMatchCadene) {
  EXPECT_EQ(models::count_parameters(*make_senet("se_resnext50_32x4d", 1000)), 27559896);
  EXPECT_EQ(models::count_parameters(*make_senet("se_resnext101_32x4d", 1000)), 48955416);
}

TEST(SENet, EncoderRegistersNoClassifier) {
  auto enc = make_senet("se_resnext50_32x4d");
  for (const auto& p : enc->named_parameters()) EXPECT_EQ(p.key().find("last_linear"), std::string::npos) << p.key();
  EXPECT_EQ(models::count_parameters(*enc), 27559896 - (2048 * 1000 + 1000));
  EXPECT_THROW(enc->forward(torch::zeros({1, 3, 64, 64})), core::Error);
}

TEST(SENet, ModuleNamesAreCadenes) {
  auto net = make_senet("se_resnext50_32x4d", 1000);
  const auto params = net->named_parameters();
  const auto buffers = net->named_buffers();
  for (const char* k : {"layer0.conv1.weight", "layer0.bn1.weight", "layer1.0.conv1.weight", "layer1.0.conv3.weight",
                        "layer1.0.se_module.fc1.weight", "layer1.0.se_module.fc1.bias", "layer1.0.se_module.fc2.bias",
                        "layer1.0.downsample.0.weight", "layer2.0.downsample.1.weight", "layer4.2.bn3.bias",
                        "last_linear.weight", "last_linear.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  for (const char* k : {"layer0.bn1.running_mean", "layer3.5.bn2.running_var", "layer4.0.downsample.1.num_batches_tracked"})
    EXPECT_TRUE(buffers.contains(k)) << k;
  EXPECT_FALSE(params.contains("layer1.1.downsample.0.weight"));  // only the first block projects
  // 32 groups of 4 channels at planes 64 (ResNeXt 32x4d): the 3x3 weight is 128 x 4 x 3 x 3.
  EXPECT_EQ(params["layer1.0.conv2.weight"].sizes(), torch::IntArrayRef({128, 4, 3, 3}));
  EXPECT_EQ(params["layer4.0.conv2.weight"].sizes(), torch::IntArrayRef({1024, 32, 3, 3}));
  EXPECT_EQ(params["layer4.0.se_module.fc1.weight"].sizes(), torch::IntArrayRef({128, 2048, 1, 1}));
  EXPECT_EQ(params["layer2.0.downsample.0.weight"].sizes(), torch::IntArrayRef({512, 256, 1, 1}));
  // The stride is on the grouped 3x3 convolution, not on conv1.
  auto* block = net->named_modules()["layer2.0"].get();
  ASSERT_NE(block, nullptr);
  auto* conv1 = block->named_modules()["conv1"]->as<torch::nn::Conv2d>();
  auto* conv2 = block->named_modules()["conv2"]->as<torch::nn::Conv2d>();
  ASSERT_TRUE(conv1 && conv2);
  EXPECT_EQ(conv1->options.stride()->at(0), 1);
  EXPECT_EQ(conv2->options.stride()->at(0), 2);
  EXPECT_EQ(conv2->options.groups(), 32);
}

TEST(SENet, FeatureShapesAndChannels) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> channels{3, 64, 256, 512, 1024, 2048};
  auto enc = make_senet("se_resnext50_32x4d");
  enc->eval();
  EXPECT_EQ(enc->out_channels(), channels);
  const auto x = torch::randn({1, 3, 64, 64});
  const auto f = enc->features(x);
  ASSERT_EQ(f.size(), 6u);
  EXPECT_TRUE(f[0].is_same(x));
  for (size_t i = 0; i < f.size(); ++i) {
    const int64_t side = 64 >> i;
    EXPECT_EQ(f[i].sizes(), torch::IntArrayRef({1, channels[i], side, side})) << "feature " << i;
  }
  // Cadene's unpadded ceil-mode pool: a 35-high stem map pools to 17 rows (a pool with padding 1,
  // as torchvision's ResNet has, would give 18).
  const auto g = enc->features(torch::randn({1, 3, 70, 64}));
  EXPECT_EQ(g[1].sizes(), torch::IntArrayRef({1, 64, 35, 32}));
  EXPECT_EQ(g[2].sizes(), torch::IntArrayRef({1, 256, 17, 16}));
}

TEST(SENet, ShallowEncoderBuildsOnlyItsStages) {
  auto enc = make_senet("se_resnext50_32x4d", 0, 3, 3);
  EXPECT_EQ(enc->out_channels(), std::vector<int64_t>({3, 64, 256, 512}));
  for (const auto& p : enc->named_parameters()) {
    EXPECT_NE(p.key().rfind("layer3.", 0), 0u) << p.key();
    EXPECT_NE(p.key().rfind("layer4.", 0), 0u) << p.key();
  }
  torch::NoGradGuard no_grad;
  enc->eval();
  const auto f = enc->features(torch::randn({2, 3, 64, 64}));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[3].sizes(), torch::IntArrayRef({2, 512, 8, 8}));
  auto stem_only = make_senet("se_resnext50_32x4d", 0, 3, 1);
  EXPECT_EQ(stem_only->named_parameters().size(), 3u);  // layer0.conv1.weight, layer0.bn1.{weight,bias}
  EXPECT_EQ(stem_only->features(torch::randn({1, 3, 64, 64})).back().sizes(), torch::IntArrayRef({1, 64, 32, 32}));
  EXPECT_THROW(make_senet("se_resnext50_32x4d", 10, 3, 3), core::Error);  // a classifier needs depth 5
  EXPECT_THROW(make_senet("se_resnext50_32x4d", 0, 3, 6), core::Error);
  EXPECT_THROW(make_senet("se_resnext50_32x4d", 0, 3, 0), core::Error);
}

TEST(SENet, SingleChannelInput) {
  torch::NoGradGuard no_grad;
  auto enc = make_senet("se_resnext50_32x4d", 0, 1);
  enc->eval();
  EXPECT_EQ(enc->named_parameters()["layer0.conv1.weight"].sizes(), torch::IntArrayRef({64, 1, 7, 7}));
  EXPECT_EQ(enc->out_channels().front(), 1);
  EXPECT_EQ(enc->features(torch::randn({2, 1, 64, 64})).back().sizes(), torch::IntArrayRef({2, 2048, 2, 2}));
  EXPECT_THROW(make_senet("se_resnext50_32x4d", 0, 0), core::Error);
}

TEST(SENet, UnknownNameListsChoices) {
  const auto msg = test::error_of([] { SENetOptions::named("se_resnext51"); });
  EXPECT_NE(msg.find("'se_resnext51'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("se_resnext50_32x4d, se_resnext101_32x4d"), std::string::npos) << msg;
}

TEST(SENet, RegistryBuildsUNetAndClassifier) {
  torch::NoGradGuard no_grad;
  models::ModelSpec spec;
  spec.encoder = "se_resnext50_32x4d";
  spec.in_channels = 1;
  auto unet = models::build_model(spec);
  unet->eval();
  EXPECT_EQ(unet->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
  spec.encoder_depth = 3;
  spec.decoder_channels = {64, 32, 16};
  auto shallow = models::build_model(spec);
  shallow->eval();
  EXPECT_EQ(shallow->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));

  spec = models::ModelSpec();
  spec.arch = "classifier";
  spec.encoder = "se_resnext101_32x4d";
  spec.classes = 3;
  spec.dropout = 0.3;
  auto net = models::build_model(spec);
  auto* senet = dynamic_cast<models::SENetImpl*>(net.get());
  ASSERT_NE(senet, nullptr);
  EXPECT_EQ(senet->options().dropout, 0.3);
  EXPECT_EQ(senet->options().layers, (std::array<int64_t, 4>{3, 4, 23, 3}));
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({2, 3, 64, 64})).sizes(), torch::IntArrayRef({2, 3}));
  EXPECT_EQ(models::count_parameters(*net), 48955416 - 2048 * (1000 - 3) - (1000 - 3));
}

TEST(SENet, ClassifierForwardAndBackward) {
  auto net = make_senet("se_resnext50_32x4d", 7, 1);
  net->train();
  const auto y = net->forward(torch::randn({2, 1, 64, 64}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 7}));
  y.sum().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(SENet, ClassifierDropoutActsInTrainingOnly) {
  auto o = SENetOptions::named("se_resnext50_32x4d");
  o.num_classes = 4;
  o.dropout = 0.5;
  SENet net(o);
  const auto x = torch::randn({2, 3, 64, 64});
  torch::NoGradGuard no_grad;
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  torch::manual_seed(1);
  const auto a = net->forward(x);
  torch::manual_seed(2);
  EXPECT_FALSE(torch::allclose(a, net->forward(x)));
}

TEST(SENet, FoldingKeepsOutputs) {
  torch::manual_seed(3);
  auto o = SENetOptions::named("se_resnext50_32x4d");
  o.num_classes = 10;
  SENet net(o);
  test::randomize_batch_norms(*net, {4, 3, 64, 64}, [&](const torch::Tensor& x) { net->forward(x); });
  EXPECT_EQ(test::count_batch_norms(*net), 1u + 16u * 3u + 4u);  // stem, 16 blocks x 3, 4 downsamples
  const auto params_before = models::count_parameters(*net);
  const double diff = test::fold_difference(*net, torch::randn({2, 3, 64, 64}),
                                            [&](const torch::Tensor& x) { return net->forward(x); }, "se_resnext50");
  EXPECT_LE(diff, 1e-4);
  EXPECT_EQ(test::count_batch_norms(*net), 0u);
  for (const auto& b : net->named_buffers()) ADD_FAILURE() << "buffer left after folding: " << b.key();
  EXPECT_LT(models::count_parameters(*net), params_before);
  EXPECT_TRUE(net->named_parameters().contains("layer0.conv1.bias"));
  EXPECT_TRUE(net->named_parameters().contains("layer1.0.downsample.0.bias"));

  // The encoder inside a U-Net folds too.
  torch::manual_seed(4);
  models::UNet unet("se_resnext50_32x4d");
  test::randomize_batch_norms(*unet, {2, 3, 64, 64}, [&](const torch::Tensor& x) { unet->forward(x); });
  const double unet_diff = test::fold_difference(*unet, torch::randn({1, 3, 64, 64}),
                                                 [&](const torch::Tensor& x) { return unet->forward(x); },
                                                 "unet-se_resnext50");
  EXPECT_LE(unet_diff, 1e-4);
  EXPECT_EQ(test::count_batch_norms(*unet), 0u);
}

class SENetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> SENetParity::reference_;

TEST_F(SENetParity, SEResNeXt50ClassifierMatchesCadene) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "se_resnext50_32x4d";
  spec.classes = 1000;
  auto net = models::build_model(spec);
  test::expect_parity(*reference_, "se_resnext50_32x4d", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(SENetParity, SEResNeXt50EncoderMatchesSegmentationModels) {
  auto enc = models::build_encoder("se_resnext50_32x4d");
  test::expect_parity(*reference_, "se_resnext50_encoder", *enc,
                      [&](const torch::Tensor& x) { return test::flat_features(enc->features(x)); });
}

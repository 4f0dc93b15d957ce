// U-Net++ (src/ptx/models/decoders/unetplusplus): segmentation_models' parameter counts and
// names, output parity with a Python restatement of its UnetPlusPlusDecoder, sizes, options.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unetplusplus.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using models::ModelSpec;
using models::UNetPlusPlus;

namespace {

// segmentation_models.pytorch is not packaged for Debian: its UnetPlusPlusDecoder, UnetDecoder,
// DecoderBlock, Conv2dReLU, SCSEModule/Attention and ResNetEncoder are restated with the same module names and
// forward code (upsampling by scale_factor=2, as segmentation_models does).
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
from torchvision.models.resnet import BasicBlock

class Conv2dReLU(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

class SCSEModule(nn.Module):
    def __init__(self, c, reduction=16):
        super().__init__()
        self.cSE = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // reduction, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(c // reduction, c, 1), nn.Sigmoid())
        self.sSE = nn.Sequential(nn.Conv2d(c, 1, 1), nn.Sigmoid())
    def forward(self, x):
        return x * self.cSE(x) + x * self.sSE(x)

class Attention(nn.Module):
    def __init__(self, name, c):
        super().__init__()
        self.attention = nn.Identity() if name is None else SCSEModule(c)
    def forward(self, x):
        return self.attention(x)

class DecoderBlock(nn.Module):
    def __init__(self, i, skip, o, attention_type=None):
        super().__init__()
        self.conv1 = Conv2dReLU(i + skip, o)
        self.attention1 = Attention(attention_type, i + skip)
        self.conv2 = Conv2dReLU(o, o)
        self.attention2 = Attention(attention_type, o)
    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
            x = self.attention1(x)
        return self.attention2(self.conv2(self.conv1(x)))

class UnetPlusPlusDecoder(nn.Module):
    def __init__(self, encoder_channels, decoder_channels, attention_type=None):
        super().__init__()
        enc = list(encoder_channels[1:])[::-1]
        self.in_channels = [enc[0]] + list(decoder_channels[:-1])
        self.skip_channels = enc[1:] + [0]
        self.out_channels = list(decoder_channels)
        self.center = nn.Identity()
        blocks = {}
        for l in range(len(self.in_channels) - 1):
            for d in range(l + 1):
                if d == 0:
                    i, s, o = self.in_channels[l], self.skip_channels[l] * (l + 1), self.out_channels[l]
                else:
                    o = self.skip_channels[l]
                    s = self.skip_channels[l] * (l + 1 - d)
                    i = self.skip_channels[l - 1]
                blocks[f"x_{d}_{l}"] = DecoderBlock(i, s, o, attention_type)
        blocks[f"x_0_{len(self.in_channels) - 1}"] = DecoderBlock(self.in_channels[-1], 0, self.out_channels[-1],
                                                                   attention_type)
        self.blocks = nn.ModuleDict(blocks)
        self.depth = len(self.in_channels) - 1
    def forward(self, *features):
        features = features[1:][::-1]
        dense_x = {}
        for l in range(len(self.in_channels) - 1):
            for d in range(self.depth - l):
                if l == 0:
                    dense_x[f"x_{d}_{d}"] = self.blocks[f"x_{d}_{d}"](features[d], features[d + 1])
                else:
                    j = d + l
                    cat = [dense_x[f"x_{i}_{j}"] for i in range(d + 1, j + 1)]
                    cat = torch.cat(cat + [features[j + 1]], dim=1)
                    dense_x[f"x_{d}_{j}"] = self.blocks[f"x_{d}_{j}"](dense_x[f"x_{d}_{j - 1}"], cat)
        last = f"x_0_{self.depth}"
        dense_x[last] = self.blocks[last](dense_x[f"x_0_{self.depth - 1}"])
        return dense_x[last]

class ResNetEncoder(torchvision.models.ResNet):
    def __init__(self):
        super().__init__(BasicBlock, [3, 4, 6, 3])
        del self.fc
        del self.avgpool
    def forward(self, x):
        f = [x]
        x = self.relu(self.bn1(self.conv1(x))); f.append(x)
        x = self.layer1(self.maxpool(x)); f.append(x)
        for layer in (self.layer2, self.layer3, self.layer4):
            x = layer(x); f.append(x)
        return f

class UnetPlusPlus(nn.Module):
    def __init__(self, classes=1, decoder_channels=(256, 128, 64, 32, 16), attention_type=None):
        super().__init__()
        self.encoder = ResNetEncoder()
        self.decoder = UnetPlusPlusDecoder((3, 64, 64, 128, 256, 512), decoder_channels, attention_type)
        self.segmentation_head = nn.Sequential(nn.Conv2d(decoder_channels[-1], classes, 3, padding=1))
    def forward(self, x):
        return self.segmentation_head(self.decoder(*self.encoder(x)))

class UnetDecoder(nn.Module):
    def __init__(self, encoder_channels, decoder_channels, attention_type=None):
        super().__init__()
        enc = list(encoder_channels[1:])[::-1]
        ins = [enc[0]] + list(decoder_channels[:-1])
        skips = enc[1:] + [0]
        self.center = nn.Identity()
        self.blocks = nn.ModuleList([DecoderBlock(i, s, o, attention_type)
                                     for i, s, o in zip(ins, skips, decoder_channels)])
    def forward(self, *features):
        features = features[1:][::-1]
        x, skips = self.center(features[0]), features[1:]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return x

class Unet(nn.Module):
    def __init__(self, decoder_channels=(256, 128, 64, 32, 16), attention_type=None):
        super().__init__()
        self.encoder = ResNetEncoder()
        self.decoder = UnetDecoder((3, 64, 64, 128, 256, 512), decoder_channels, attention_type)
        self.segmentation_head = nn.Sequential(nn.Conv2d(decoder_channels[-1], 1, 3, padding=1))
    def forward(self, x):
        return self.segmentation_head(self.decoder(*self.encoder(x)))

torch.manual_seed(2)
m = Unet(attention_type="scse")
assert sum(p.numel() for p in m.parameters()) == 24436369 + 113991
randomize_and_save("unet_resnet34_scse", m)

torch.manual_seed(0)
m = UnetPlusPlus()
assert sum(p.numel() for p in m.parameters()) == 26078609
randomize_and_save("unetplusplus_resnet34", m)
torch.manual_seed(1)
m = UnetPlusPlus(classes=2, attention_type="scse")
assert sum(p.numel() for p in m.parameters()) == 26281332 + 145
randomize_and_save("unetplusplus_resnet34_scse", m, (1, 3, 64, 96))
)PY");

}  // namespace

class UNetPlusPlusParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> UNetPlusPlusParity::reference_;

TEST_F(UNetPlusPlusParity, ResNet34MatchesSegmentationModels) {
  UNetPlusPlus net("resnet34");
  test::expect_parity(*reference_, "unetplusplus_resnet34", *net,
                      [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(UNetPlusPlusParity, ResNet34WithScseMatchesSegmentationModels) {
  models::SegmentationOptions o;
  o.classes = 2;
  o.attention = "scse";
  UNetPlusPlus net(models::build_encoder("resnet34"), models::default_unetplusplus_decoder_channels(5), o);
  test::expect_parity(*reference_, "unetplusplus_resnet34_scse", *net,
                      [&](const torch::Tensor& x) { return net->forward(x); });
}

// The decoder block with scSE is the U-Net's too: segmentation_models' Unet(attention_type="scse").
TEST_F(UNetPlusPlusParity, UNetResNet34WithScseMatchesSegmentationModels) {
  models::SegmentationOptions o;
  o.attention = "scse";
  models::UNet net(models::build_encoder("resnet34"), models::default_unet_decoder_channels(), o);
  test::expect_parity(*reference_, "unet_resnet34_scse", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST(UNetPlusPlus, ParameterCountsAndNames) {
  UNetPlusPlus net("resnet34");
  EXPECT_EQ(models::count_parameters(*net), 26078609);  // segmentation_models' Unet++ resnet34
  const auto params = net->named_parameters();
  // The nested blocks of depth 5: x_k_l for 0 <= k <= l <= 3, and x_0_4.
  EXPECT_EQ(net->decoder()->decoder_blocks().size(), 11u);
  for (const char* k : {"decoder.blocks.x_0_0.conv1.0.weight", "decoder.blocks.x_3_3.conv2.1.bias",
                        "decoder.blocks.x_1_3.conv1.0.weight", "decoder.blocks.x_0_4.conv2.0.weight",
                        "segmentation_head.0.weight"})
    EXPECT_TRUE(params.contains(k)) << k;
  EXPECT_FALSE(params.contains("decoder.blocks.x_0_5.conv1.0.weight"));
  // x_0_3: in 64 (d_2), skip 4 x 64 (three nested outputs + the stride-2 map), out 32.
  EXPECT_EQ(params["decoder.blocks.x_0_3.conv1.0.weight"].sizes(), torch::IntArrayRef({32, 64 + 4 * 64, 3, 3}));
  // x_2_3: in s_2 = 64, skip (3 + 1 - 2) x s_3 = 2 x 64, out 64.
  EXPECT_EQ(params["decoder.blocks.x_2_3.conv1.0.weight"].sizes(), torch::IntArrayRef({64, 64 + 2 * 64, 3, 3}));
  EXPECT_EQ(params["decoder.blocks.x_0_4.conv1.0.weight"].sizes(), torch::IntArrayRef({16, 32, 3, 3}));
}

TEST(UNetPlusPlus, OutputSizesAndDepths) {
  torch::NoGradGuard no_grad;
  UNetPlusPlus net("resnet18", /*classes=*/3);
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({1, 3, 64, 64})).sizes(), torch::IntArrayRef({1, 3, 64, 64}));
  EXPECT_EQ(net->forward(torch::randn({2, 3, 96, 64})).sizes(), torch::IntArrayRef({2, 3, 96, 64}));
  EXPECT_EQ(net->forward(torch::randn({1, 3, 72, 88})).sizes(), torch::IntArrayRef({1, 3, 72, 88}));
  for (int64_t depth : {1, 2, 3, 4}) {
    UNetPlusPlus shallow("resnet18", 1, 1, depth);
    shallow->eval();
    EXPECT_EQ(shallow->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64})) << depth;
    // segmentation_models' defaults: the last `depth` of 256, 128, 64, 32, 16.
    EXPECT_EQ(shallow->segmentation_head()->named_parameters()["0.weight"].size(1), 16);
    EXPECT_EQ(shallow->decoder()->decoder_blocks().size(), static_cast<size_t>(depth * (depth - 1) / 2 + 1));
  }
}

TEST(UNetPlusPlus, RegistryBuildsItWithTheOptions) {
  torch::NoGradGuard no_grad;
  ModelSpec spec;
  spec.arch = "unetplusplus";
  spec.encoder = "resnet18";
  spec.encoder_depth = 4;  // defaults: 128, 64, 32, 16
  spec.attention = "scse";
  spec.aux_head = true;
  spec.classes = 2;
  spec.dropout = 0.3;
  auto model = models::build_model(spec);
  model->eval();
  const auto params = model->named_parameters();
  EXPECT_EQ(params["decoder.blocks.x_0_0.conv1.0.weight"].size(0), 128);
  EXPECT_TRUE(params.contains("decoder.blocks.x_0_0.attention1.attention.cSE.1.weight"));
  EXPECT_EQ(params["classification_head.3.weight"].sizes(), torch::IntArrayRef({2, 256}));  // resnet18 depth 4
  const auto x = torch::randn({2, 3, 64, 64});
  const auto all = model->forward_all(x);
  EXPECT_EQ(all.aux_logits.sizes(), torch::IntArrayRef({2, 2}));
  EXPECT_TRUE(torch::equal(all.logits, model->forward(x)));
}

TEST(UNetPlusPlus, FoldingKeepsEvalOutputs) {
  torch::manual_seed(3);
  models::SegmentationOptions o;
  o.attention = "scse";
  UNetPlusPlus net(models::build_encoder("resnet18", 3, 4), std::vector<int64_t>{64, 32, 16, 8}, o);
  {
    torch::NoGradGuard no_grad;
    for (auto& m : net->modules())
      if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        bn->running_mean.uniform_(-0.2, 0.2);
        bn->running_var.uniform_(0.5, 2.0);
        bn->weight.uniform_(0.5, 1.5);
        bn->bias.uniform_(-0.2, 0.2);
      }
  }
  net->eval();
  const auto x = torch::randn({1, 3, 64, 96});
  torch::NoGradGuard no_grad;
  const auto before = net->forward(x);
  models::prepare_for_inference(*net, /*channels_last=*/true);
  const auto after = net->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_LE((after - before).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(net->named_buffers().is_empty());
}

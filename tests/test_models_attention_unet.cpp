// Attention U-Net (src/ptx/models/decoders/attention_unet): parameter counts from the formula
// documented in the header, outputs equal to an independent Python statement of it, output sizes, the gates' effect, both forms through the registry,
// the auxiliary head and batch-norm folding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/attention_unet.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using models::AttentionUNet;
using models::ModelSpec;

namespace {

// The header's formula.
int64_t double_conv(int64_t a, int64_t b) { return 9 * a * b + 2 * b + 9 * b * b + 2 * b; }
int64_t gate(int64_t skip, int64_t gating) {
  const int64_t f = std::max<int64_t>(1, skip / 2);
  return gating * f + 2 * f + skip * f + 2 * f + f + 2;
}
int64_t block(int64_t in, int64_t skip, int64_t out) { return 9 * (in + skip) * out + 2 * out + 9 * out * out + 2 * out; }
int64_t standalone_parameters(int64_t in_channels, const std::vector<int64_t>& f, int64_t classes) {
  const size_t L = f.size();
  int64_t n = 0, prev = in_channels;
  for (auto c : f) {
    n += double_conv(prev, c);
    prev = c;
  }
  for (size_t j = 0; j + 1 < L; ++j) {
    const int64_t in = f[L - 1 - j], skip = f[L - 2 - j];
    n += gate(skip, in) + block(in, skip, skip);
  }
  return n + 9 * f[0] * classes + classes;
}

const std::vector<int64_t> kLight{16, 32, 64, 128, 256};

// Copies every tensor of `from` that `to` has under the same name.
void copy_common(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(src[p.key()]);
  auto bsrc = from.named_buffers();
  for (auto& b : to.named_buffers()) b.value().copy_(bsrc[b.key()]);
}

void randomize_batch_norms(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& mod : m.modules())
    if (auto* bn = mod->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.uniform_(-0.2, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
    }
}

// The definition documented in attention_unet.h, written independently in Python (PyTorch), for
// both forms: standalone (light filters, 1 input channel, 2 classes) and on torchvision's ResNet34.
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
from torchvision.models.resnet import BasicBlock

class Conv2dReLU(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

class DoubleConv(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(Conv2dReLU(i, o), Conv2dReLU(o, o))

class AttentionGate(nn.Module):
    def __init__(self, skip, gating):
        super().__init__()
        f = max(1, skip // 2)
        self.W_g = nn.Sequential(nn.Conv2d(gating, f, 1, bias=False), nn.BatchNorm2d(f))
        self.W_x = nn.Sequential(nn.Conv2d(skip, f, 1, bias=False), nn.BatchNorm2d(f))
        self.psi = nn.Sequential(nn.Conv2d(f, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())
    def forward(self, skip, g):
        return skip * self.psi(F.relu(self.W_g(g) + self.W_x(skip)))

class Block(nn.Module):
    def __init__(self, i, s, o):
        super().__init__()
        if s > 0:
            self.attention_gate = AttentionGate(s, i)
        self.conv1 = Conv2dReLU(i + s, o)
        self.conv2 = Conv2dReLU(o, o)
    def forward(self, x, skip, size):
        x = F.interpolate(x, size=size, mode="nearest")
        if skip is not None:
            x = torch.cat([x, self.attention_gate(skip, x)], 1)
        return self.conv2(self.conv1(x))

class Decoder(nn.Module):
    def __init__(self, ins, skips, outs):
        super().__init__()
        self.blocks = nn.ModuleList([Block(i, s, o) for i, s, o in zip(ins, skips, outs)])

class Standalone(nn.Module):
    def __init__(self, in_channels, filters, classes):
        super().__init__()
        L = len(filters)
        self.encoder = nn.Module()
        self.encoder.blocks = nn.ModuleList([DoubleConv(a, b) for a, b in zip([in_channels] + filters[:-1], filters)])
        self.decoder = Decoder([filters[L - 1 - j] for j in range(L - 1)], [filters[L - 2 - j] for j in range(L - 1)],
                               [filters[L - 2 - j] for j in range(L - 1)])
        self.segmentation_head = nn.Sequential(nn.Conv2d(filters[0], classes, 3, padding=1))
    def forward(self, x):
        maps = []
        for i, b in enumerate(self.encoder.blocks):
            x = b(x if i == 0 else F.max_pool2d(x, 2))
            maps.append(x)
        h = maps[-1]
        for j, block in enumerate(self.decoder.blocks):
            skip = maps[len(maps) - 2 - j]
            h = block(h, skip, skip.shape[2:])
        return self.segmentation_head(h)

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

class OnResNet34(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = ResNetEncoder()
        self.decoder = Decoder([512, 256, 128, 64, 32], [256, 128, 64, 64, 0], [256, 128, 64, 32, 16])
        self.segmentation_head = nn.Sequential(nn.Conv2d(16, 1, 3, padding=1))
    def forward(self, x):
        features = self.encoder(x)
        f = features[1:][::-1]
        h = f[0]
        for i, block in enumerate(self.decoder.blocks):
            skip = f[i + 1] if i + 1 < len(f) else None
            h = block(h, skip, (skip if skip is not None else x).shape[2:])
        return self.segmentation_head(h)

torch.manual_seed(0)
m = Standalone(1, [16, 32, 64, 128, 256], 2)
assert sum(p.numel() for p in m.parameters()) == 1997330
randomize_and_save("attention_unet_light", m, (1, 1, 64, 96))
torch.manual_seed(1)
m = OnResNet34()
assert sum(p.numel() for p in m.parameters()) == 24570777
randomize_and_save("attention_unet_resnet34", m)
)PY");

}  // namespace

class AttentionUNetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> AttentionUNetParity::reference_;

TEST_F(AttentionUNetParity, StandaloneMatchesThePythonDefinition) {
  models::SegmentationOptions o;
  o.classes = 2;
  AttentionUNet net(1, kLight, o);
  test::expect_parity(*reference_, "attention_unet_light", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(AttentionUNetParity, ResNet34FormMatchesThePythonDefinition) {
  AttentionUNet net(models::build_encoder("resnet34"), models::default_unet_decoder_channels());
  test::expect_parity(*reference_, "attention_unet_resnet34", *net,
                      [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST(AttentionUNet, StandaloneParameterCountsFollowTheFormula) {
  AttentionUNet classic(3, models::default_attention_unet_filters());
  EXPECT_EQ(models::count_parameters(*classic), standalone_parameters(3, {64, 128, 256, 512, 1024}, 1));
  EXPECT_EQ(models::count_parameters(*classic), 31909993);
  models::SegmentationOptions o;
  o.classes = 2;
  AttentionUNet light(1, kLight, o);
  EXPECT_EQ(models::count_parameters(*light), standalone_parameters(1, kLight, 2));
  EXPECT_EQ(models::count_parameters(*light), 1997330);
  const auto p = light->named_parameters();
  for (const char* k : {"encoder.blocks.0.0.0.weight", "encoder.blocks.4.1.1.bias",
                        "decoder.blocks.0.attention_gate.W_g.0.weight", "decoder.blocks.3.attention_gate.psi.1.weight",
                        "decoder.blocks.3.conv2.0.weight", "segmentation_head.0.weight"})
    EXPECT_TRUE(p.contains(k)) << k;
  // Block 0: gating 256 channels, skip 128 (F = 64); conv1 sees 256 + 128.
  EXPECT_EQ(p["decoder.blocks.0.attention_gate.W_g.0.weight"].sizes(), torch::IntArrayRef({64, 256, 1, 1}));
  EXPECT_EQ(p["decoder.blocks.0.conv1.0.weight"].sizes(), torch::IntArrayRef({128, 384, 3, 3}));
  EXPECT_EQ(p["segmentation_head.0.weight"].sizes(), torch::IntArrayRef({2, 16, 3, 3}));
}

TEST(AttentionUNet, EncoderFormParameterCount) {
  ModelSpec spec;
  spec.arch = "attention_unet";  // resnet34, decoder 256, 128, 64, 32, 16
  auto net = models::build_model(spec);
  // The U-Net's 24,436,369 plus gates on the four skips (gating = the upsampled decoder input).
  const int64_t gates = gate(256, 512) + gate(128, 256) + gate(64, 128) + gate(64, 64);
  EXPECT_EQ(models::count_parameters(*net), 24436369 + gates);
  EXPECT_EQ(models::count_parameters(*net), 24570777);
  const auto p = net->named_parameters();
  EXPECT_TRUE(p.contains("decoder.blocks.3.attention_gate.W_x.0.weight"));
  EXPECT_FALSE(p.contains("decoder.blocks.4.attention_gate.W_x.0.weight"));  // no skip, no gate
}

TEST(AttentionUNet, OutputSizes) {
  torch::NoGradGuard no_grad;
  AttentionUNet light(3, kLight);
  light->eval();
  ModelSpec spec;
  spec.arch = "attention_unet";
  spec.encoder = "resnet18";
  spec.classes = 2;
  auto resnet = models::build_model(spec);
  resnet->eval();
  for (int64_t h : {32, 64, 96})
    for (int64_t w : {32, 64, 160}) {
      const auto x = torch::randn({1, 3, h, w});
      EXPECT_EQ(light->forward(x).sizes(), torch::IntArrayRef({1, 1, h, w})) << h << "x" << w;
      EXPECT_EQ(resnet->forward(x).sizes(), torch::IntArrayRef({1, 2, h, w})) << h << "x" << w;
    }
  // Not multiples of 32 either: each upsampling goes to its skip's size.
  EXPECT_EQ(light->forward(torch::randn({2, 3, 65, 97})).sizes(), torch::IntArrayRef({2, 1, 65, 97}));
  EXPECT_EQ(resnet->forward(torch::randn({1, 3, 72, 88})).sizes(), torch::IntArrayRef({1, 2, 72, 88}));
}

// With every psi weight zero each gate passes half of its skip: the network then equals the plain
// U-Net with the same weights whose conv1 weights on the skip's channels are halved.
TEST(AttentionUNet, ZeroPsiGatesPassHalfTheSkip) {
  torch::manual_seed(11);
  const auto check = [](models::ModelImpl& gated, models::ModelImpl& plain,
                        const std::vector<models::UNetDecoderBlock>& blocks, const std::vector<int64_t>& skips) {
    randomize_batch_norms(gated);
    copy_common(gated, plain);
    gated.eval();
    plain.eval();
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({1, 3, 64, 96});
    const double gated_diff = (gated.forward(x) - plain.forward(x)).abs().max().item<double>();
    EXPECT_GT(gated_diff, 1e-4) << "the gates change nothing";
    auto pp = plain.named_parameters();
    auto gp = gated.named_parameters();
    int64_t gates = 0;
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (!blocks[i]->gate()) continue;
      ++gates;
      const std::string b = "decoder.blocks." + std::to_string(i);
      gp[b + ".attention_gate.psi.0.weight"].zero_();
      // and psi's batch norm fresh (identity in eval mode)
      gp[b + ".attention_gate.psi.1.weight"].fill_(1.0);
      gp[b + ".attention_gate.psi.1.bias"].zero_();
      auto buffers = gated.named_buffers();
      buffers[b + ".attention_gate.psi.1.running_mean"].zero_();
      buffers[b + ".attention_gate.psi.1.running_var"].fill_(1.0);
      auto w = pp[b + ".conv1.0.weight"];
      const int64_t skip = skips[i];
      w.narrow(1, w.size(1) - skip, skip).mul_(0.5);
    }
    EXPECT_EQ(gates, static_cast<int64_t>(std::count_if(skips.begin(), skips.end(), [](int64_t s) { return s > 0; })));
    const double diff = (gated.forward(x) - plain.forward(x)).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << "output scale " << plain.forward(x).abs().max().item<double>();
  };
  {
    AttentionUNet gated(models::build_encoder("resnet18", 3, 3), std::vector<int64_t>{64, 32, 16});
    models::UNet plain(models::build_encoder("resnet18", 3, 3), 1, std::vector<int64_t>{64, 32, 16});
    check(*gated, *plain, gated->decoder()->decoder_blocks(), {64, 64, 0});
  }
  {
    // Standalone: the plain counterpart is the same encoder and U-Net decoder without gates.
    AttentionUNet gated(3, std::vector<int64_t>{8, 16, 32});
    struct PlainImpl : models::ModelImpl {
      PlainImpl() {
        encoder = register_module("encoder", models::DoubleConvEncoder(3, std::vector<int64_t>{8, 16, 32}));
        models::UNetDecoderOptions o;
        o.first_map_is_skip = true;
        decoder = register_module("decoder", models::UNetDecoder(std::vector<int64_t>{8, 16, 32},
                                                                 std::vector<int64_t>{16, 8}, o));
        head = register_module("segmentation_head", models::make_segmentation_head(8, 1));
      }
      torch::Tensor forward(const torch::Tensor& x) override { return head->forward(decoder->forward(encoder->forward(x))); }
      models::DoubleConvEncoder encoder{nullptr};
      models::UNetDecoder decoder{nullptr};
      torch::nn::Sequential head{nullptr};
    };
    PlainImpl plain;
    check(*gated, plain, gated->decoder()->decoder_blocks(), {16, 8});
  }
}

TEST(AttentionUNet, RegistryFormsAuxHeadAndErrors) {
  torch::NoGradGuard no_grad;
  ModelSpec spec;
  spec.arch = "attention_unet";
  spec.encoder = "none";
  spec.decoder_channels = {256, 128, 64, 32, 16};  // the light filters, deepest first
  spec.aux_head = true;
  spec.dropout = 0.2;
  spec.attention = "scse";
  auto net = models::build_model(spec);
  net->eval();
  const auto p = net->named_parameters();
  EXPECT_EQ(p["encoder.blocks.0.0.0.weight"].size(0), 16);
  EXPECT_EQ(p["classification_head.3.weight"].sizes(), torch::IntArrayRef({1, 256}));
  EXPECT_TRUE(p.contains("decoder.blocks.3.attention2.attention.cSE.1.weight"));
  const auto x = torch::randn({2, 3, 64, 64});
  const auto all = net->forward_all(x);
  EXPECT_EQ(all.aux_logits.sizes(), torch::IntArrayRef({2, 1}));
  EXPECT_TRUE(torch::equal(all.logits, net->forward(x)));

  spec = ModelSpec();
  spec.arch = "attention_unet";
  spec.encoder = "none";
  spec.encoder_depth = 3;  // default filters 64, 128, 256
  EXPECT_EQ(models::count_parameters(*models::build_model(spec)), standalone_parameters(3, {64, 128, 256}, 1));
  spec.decoder_channels = {64, 32};
  auto msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("encoder_depth 3"), std::string::npos) << msg;
  spec.decoder_channels.clear();
  spec.encoder_depth = 1;
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("2 to 5"), std::string::npos);
  spec = ModelSpec();
  spec.encoder = "none";  // arch unet
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("attention_unet"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resnet34"), std::string::npos) << msg;
  spec.arch = "attention_unet";
  spec.encoder = "resnet35";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("vgg16_bn, none"), std::string::npos) << msg;
}

TEST(AttentionUNet, FoldingKeepsEvalOutputs) {
  torch::manual_seed(12);
  for (int form = 0; form < 2; ++form) {
    models::ModelPtr net = form == 0 ? models::ModelPtr(std::make_shared<models::AttentionUNetImpl>(3, kLight))
                                     : models::ModelPtr(std::make_shared<models::AttentionUNetImpl>(
                                           models::build_encoder("resnet18", 3, 4), std::vector<int64_t>{64, 32, 16, 8}));
    randomize_batch_norms(*net);
    net->eval();
    const auto x = torch::randn({1, 3, 64, 96});
    torch::Tensor before;
    {
      torch::NoGradGuard no_grad;
      before = net->forward(x);
    }
    models::prepare_for_inference(*net, /*channels_last=*/true);
    c10::InferenceMode inference;
    const auto after = net->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_LE((after - before).abs().max().item<double>(), 1e-4) << form;
    EXPECT_TRUE(net->named_buffers().is_empty()) << form;
  }
}

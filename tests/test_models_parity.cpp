// Same outputs as the Python reference networks. Debian's python3-torchvision (/usr/bin/python3,
// or $PTX_REFERENCE_PYTHON) builds each network with random weights and batch-norm statistics,
// an input and its eval-mode output, and saves them as a plain dict of tensors; ptx loads the
// weights by name (parameters and buffers) and must agree to 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/resnet.h"
#include "ptx/models/registry.h"
#include "ptx/models/weights.h"
#include "test_support.h"

using namespace ptx;

namespace {

// torchvision's resnet34 and resnet50, and the U-Net of segmentation_models.pytorch (which is not
// packaged for Debian: its Unet, UnetDecoder, DecoderBlock, Conv2dReLU and ResNetEncoder are
// restated here with the same module names and forward code).
constexpr const char* kReferenceScript = R"PY(
import sys, torch, torch.nn as nn, torch.nn.functional as F, torchvision
from torchvision.models.resnet import BasicBlock

class Conv2dReLU(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

class DecoderBlock(nn.Module):
    def __init__(self, i, skip, o):
        super().__init__()
        self.conv1 = Conv2dReLU(i + skip, o)
        self.conv2 = Conv2dReLU(o, o)
    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))

class UnetDecoder(nn.Module):
    def __init__(self, encoder_channels, decoder_channels):
        super().__init__()
        enc = list(encoder_channels[1:])[::-1]
        ins = [enc[0]] + list(decoder_channels[:-1])
        skips = enc[1:] + [0]
        self.center = nn.Identity()
        self.blocks = nn.ModuleList([DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels)])
    def forward(self, *features):
        features = features[1:][::-1]
        x, skips = self.center(features[0]), features[1:]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return x

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

class Unet(nn.Module):
    def __init__(self, classes=1, decoder_channels=(256, 128, 64, 32, 16)):
        super().__init__()
        self.encoder = ResNetEncoder()
        self.decoder = UnetDecoder((3, 64, 64, 128, 256, 512), decoder_channels)
        self.segmentation_head = nn.Sequential(nn.Conv2d(decoder_channels[-1], classes, 3, padding=1))
    def forward(self, x):
        return self.segmentation_head(self.decoder(*self.encoder(x)))

out = sys.argv[1]
builders = {"resnet34": torchvision.models.resnet34, "resnet50": torchvision.models.resnet50,
            "unet_resnet34": Unet}
for name, build in builders.items():
    torch.manual_seed(0)
    m = build()
    if name == "unet_resnet34":
        assert sum(p.numel() for p in m.parameters()) == 24436369
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None  # running statistics: the average over the batches below
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(4, 3, 64, 64))
    m.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y = m(x)
    d = {k: v for k, v in m.state_dict().items()}
    d["__input__"] = x
    d["__output__"] = y
    torch.save(d, out + "/" + name + ".pt", _use_new_zipfile_serialization=True)
)PY";

std::string reference_python() {
  const char* env = std::getenv("PTX_REFERENCE_PYTHON");
  return env ? env : "/usr/bin/python3";
}

}  // namespace

class ModelsParity : public ::testing::Test {
 protected:
  // One Python run (about 3 s) makes every reference file.
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string script = *dir_ / "make_references.py", log = *dir_ / "log";
    std::ofstream(script) << kReferenceScript;
    const std::string python = reference_python();
    if (std::system((python + " -c 'import torch, torchvision' >" + log + " 2>&1").c_str()) != 0) {
      skip_reason_ = python + " cannot import torch and torchvision (Debian: python3-torchvision): parity skipped";
      return;
    }
    const std::string cmd = python + " " + script + " " + dir_->path().string() + " >" + log + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream in(log);
      failure_ = "the Python reference script failed: " +
                 std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Loads reference `file` into `model` (strictly, parameters and buffers) and compares outputs.
  static void check(const std::string& file, torch::nn::Module& model,
                    const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << failure_;
    auto tensors = models::read_tensor_dict(*dir_ / (file + ".pt"));
    const auto x = tensors.at("__input__"), expected = tensors.at("__output__");
    tensors.erase("__input__");
    tensors.erase("__output__");
    model.eval();
    torch::NoGradGuard no_grad;

    // Parameters alone do not reproduce the reference: the batch-norm statistics matter.
    auto params_only = tensors;
    for (const auto& b : model.named_buffers()) params_only.erase(b.key());
    const auto partial = models::load_named_tensors(model, params_only, /*strict=*/false);
    EXPECT_EQ(partial.missing.size(), model.named_buffers().size());
    const double diff_without_buffers = (forward(x) - expected).abs().max().item<double>();
    EXPECT_GT(diff_without_buffers, 1e-2) << "the reference does not exercise the buffers";

    const auto report = models::load_named_tensors(model, tensors);  // strict: every name matches
    EXPECT_TRUE(report.complete()) << report.describe();
    EXPECT_EQ(report.loaded, tensors.size());

    const auto y = forward(x);
    ASSERT_EQ(y.sizes(), expected.sizes());
    const double diff = (y - expected).abs().max().item<double>();
    RecordProperty("max_abs_diff", std::to_string(diff));
    std::cout << "[ parity   ] " << file << ": max |ptx - python| = " << diff << " (output scale "
              << expected.abs().max().item<double>() << "; without the buffers " << diff_without_buffers
              << ")\n";
    EXPECT_LE(diff, 1e-4) << file;
  }

  static test::TempDir* dir_;
  static std::string skip_reason_, failure_;
};
test::TempDir* ModelsParity::dir_ = nullptr;
std::string ModelsParity::skip_reason_, ModelsParity::failure_;

TEST_F(ModelsParity, ResNet34ClassifierMatchesTorchvision) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "resnet34";
  spec.classes = 1000;
  auto net = models::build_model(spec);
  check("resnet34", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(ModelsParity, ResNet50ClassifierMatchesTorchvision) {
  auto o = models::ResNetOptions::named("resnet50");
  o.num_classes = 1000;
  models::ResNet net(o);
  check("resnet50", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST_F(ModelsParity, UNetResNet34MatchesSegmentationModels) {
  models::UNet net("resnet34");
  check("unet_resnet34", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

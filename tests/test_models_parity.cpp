// Same outputs as the Python reference networks. Debian's python3-torchvision (/usr/bin/python3,
// or $PTX_REFERENCE_PYTHON) builds each network with random weights and batch-norm statistics,
// an input and its eval-mode output, and saves them as a plain dict of tensors; ptx loads the
// weights by name (parameters and buffers) and must agree to 1e-4.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/models/decoders/unet.h"
#include "ptx/models/encoders/resnet.h"
#include "ptx/models/registry.h"
#include "python_reference.h"

using namespace ptx;

namespace {

// torchvision's resnet34 and resnet50, and the U-Net of segmentation_models.pytorch (which is not
// packaged for Debian: its Unet, UnetDecoder, DecoderBlock, Conv2dReLU and ResNetEncoder are
// restated here with the same module names and forward code).
const std::string kReferenceScript = test::with_reference_prelude(R"PY(
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

torch.manual_seed(0)
m = Unet()
assert sum(p.numel() for p in m.parameters()) == 24436369
randomize_and_save("unet_resnet34", m)
for name in ("resnet34", "resnet50"):
    torch.manual_seed(0)
    randomize_and_save(name, getattr(torchvision.models, name)())
)PY");

}  // namespace

class ModelsParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static void check(const std::string& name, torch::nn::Module& model,
                    const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
    test::expect_parity(*reference_, name, model, forward);
  }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> ModelsParity::reference_;

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

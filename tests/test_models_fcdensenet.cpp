// FC-DenseNet / Tiramisu (src/ptx/models/decoders/fcdensenet): bfortuner's pytorch_tiramisu
// parameter counts and names (a Python restatement), output parity, sizes, the classifier form
// and the auxiliary head, registry errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/fcdensenet.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using models::FCDenseNet;
using models::FCDenseNetOptions;
using models::ModelSpec;

namespace {

// bfortuner/pytorch_tiramisu's models/layers.py and tiramisu.py, restated with the same module
// names and forward code; the script checks the parameter counts of all three variants (1 class).
const std::string kReferenceScript = test::with_reference_prelude(R"PY(

class DenseLayer(nn.Sequential):
    def __init__(self, c, g):
        super().__init__()
        self.add_module('norm', nn.BatchNorm2d(c))
        self.add_module('relu', nn.ReLU(True))
        self.add_module('conv', nn.Conv2d(c, g, 3, 1, 1, bias=True))
        self.add_module('drop', nn.Dropout2d(0.2))

class DenseBlock(nn.Module):
    def __init__(self, c, g, n, upsample=False):
        super().__init__()
        self.upsample = upsample
        self.layers = nn.ModuleList([DenseLayer(c + i * g, g) for i in range(n)])
    def forward(self, x):
        new = []
        for layer in self.layers:
            out = layer(x)
            x = torch.cat([x, out], 1)
            new.append(out)
        return torch.cat(new, 1) if self.upsample else x

class TransitionDown(nn.Sequential):
    def __init__(self, c):
        super().__init__()
        self.add_module('norm', nn.BatchNorm2d(c))
        self.add_module('relu', nn.ReLU(True))
        self.add_module('conv', nn.Conv2d(c, c, 1, 1, 0, bias=True))
        self.add_module('drop', nn.Dropout2d(0.2))
        self.add_module('maxpool', nn.MaxPool2d(2))

def center_crop(layer, h, w):
    _, _, lh, lw = layer.size()
    x1 = (lw - w) // 2; y1 = (lh - h) // 2
    return layer[:, :, y1:y1 + h, x1:x1 + w]

class TransitionUp(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.convTrans = nn.ConvTranspose2d(i, o, 3, 2, 0, bias=True)
    def forward(self, x, skip):
        out = center_crop(self.convTrans(x), skip.size(2), skip.size(3))
        return torch.cat([out, skip], 1)

class Bottleneck(nn.Sequential):
    def __init__(self, c, g, n):
        super().__init__()
        self.add_module('bottleneck', DenseBlock(c, g, n, upsample=True))

class FCDenseNet(nn.Module):
    def __init__(self, in_channels=3, down_blocks=(5,)*5, up_blocks=(5,)*5, bottleneck_layers=5, growth_rate=16,
                 out_chans_first_conv=48, n_classes=1):
        super().__init__()
        self.down_blocks, self.up_blocks = down_blocks, up_blocks
        cur = 0; skips = []
        self.add_module('firstconv', nn.Conv2d(in_channels, out_chans_first_conv, 3, 1, 1, bias=True))
        cur = out_chans_first_conv
        self.denseBlocksDown = nn.ModuleList([]); self.transDownBlocks = nn.ModuleList([])
        for n in down_blocks:
            self.denseBlocksDown.append(DenseBlock(cur, growth_rate, n))
            cur += growth_rate * n
            skips.insert(0, cur)
            self.transDownBlocks.append(TransitionDown(cur))
        self.add_module('bottleneck', Bottleneck(cur, growth_rate, bottleneck_layers))
        prev = growth_rate * bottleneck_layers
        cur += prev
        self.transUpBlocks = nn.ModuleList([]); self.denseBlocksUp = nn.ModuleList([])
        for i in range(len(up_blocks) - 1):
            self.transUpBlocks.append(TransitionUp(prev, prev))
            cur = prev + skips[i]
            self.denseBlocksUp.append(DenseBlock(cur, growth_rate, up_blocks[i], upsample=True))
            prev = growth_rate * up_blocks[i]
            cur += prev
        self.transUpBlocks.append(TransitionUp(prev, prev))
        cur = prev + skips[-1]
        self.denseBlocksUp.append(DenseBlock(cur, growth_rate, up_blocks[-1], upsample=False))
        cur += growth_rate * up_blocks[-1]
        self.finalConv = nn.Conv2d(cur, n_classes, 1, 1, 0, bias=True)
    def forward(self, x):
        out = self.firstconv(x)
        skips = []
        for i in range(len(self.down_blocks)):
            out = self.denseBlocksDown[i](out)
            skips.append(out)
            out = self.transDownBlocks[i](out)
        out = self.bottleneck(out)
        for i in range(len(self.up_blocks)):
            out = self.transUpBlocks[i](out, skips.pop())
            out = self.denseBlocksUp[i](out)
        return self.finalConv(out)

def FCDenseNet57(c=1): return FCDenseNet(3, (4,)*5, (4,)*5, 4, 12, 48, c)
def FCDenseNet67(c=1): return FCDenseNet(3, (5,)*5, (5,)*5, 5, 16, 48, c)
def FCDenseNet103(c=1): return FCDenseNet(3, (4,5,7,10,12), (12,10,7,5,4), 15, 16, 48, c)

counts = {"fcdensenet57": FCDenseNet57(), "fcdensenet67": FCDenseNet67(), "fcdensenet103": FCDenseNet103()}
with open(OUT + "/counts.txt", "w") as f:
    for name, m in counts.items():
        f.write("%s %d\n" % (name, sum(p.numel() for p in m.parameters())))
torch.manual_seed(0)
randomize_and_save("fcdensenet57", FCDenseNet57(2), (1, 3, 64, 96))
)PY");

int64_t python_count(const test::PythonReference& ref, const std::string& name) {
  std::ifstream in(ref.dir / "counts.txt");
  std::string key;
  int64_t n = 0;
  while (in >> key >> n)
    if (key == name) return n;
  return -1;
}

}  // namespace

class FCDenseNetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kReferenceScript.c_str()); }
  static void TearDownTestSuite() { reference_.reset(); }
  static std::unique_ptr<test::PythonReference> reference_;
};
std::unique_ptr<test::PythonReference> FCDenseNetParity::reference_;

TEST_F(FCDenseNetParity, ParameterCountsMatchPytorchTiramisu) {
  // The figures Python prints for bfortuner's definitions (1 class); also checked against Python
  // at test time when it is available.
  const std::map<std::string, int64_t> expected{
      {"fcdensenet57", 1374865}, {"fcdensenet67", 3460353}, {"fcdensenet103", 9319521}};
  for (const auto& [name, count] : expected) {
    FCDenseNet net(FCDenseNetOptions::named(name));
    EXPECT_EQ(models::count_parameters(*net), count) << name;
    if (reference_->skip_reason.empty() && reference_->failure.empty()) {
      EXPECT_EQ(python_count(*reference_, name), count) << name;
    }
  }
}

TEST_F(FCDenseNetParity, FCDenseNet57MatchesPytorchTiramisu) {
  auto o = FCDenseNetOptions::named("fcdensenet57");
  o.classes = 2;
  FCDenseNet net(o);
  test::expect_parity(*reference_, "fcdensenet57", *net, [&](const torch::Tensor& x) { return net->forward(x); });
}

TEST(FCDenseNet, NamesFollowPytorchTiramisu) {
  FCDenseNet net(FCDenseNetOptions::named("fcdensenet103"));
  const auto params = net->named_parameters();
  for (const char* k : {"firstconv.weight", "denseBlocksDown.0.layers.3.norm.weight",
                        "denseBlocksDown.4.layers.11.conv.bias", "transDownBlocks.2.conv.weight",
                        "bottleneck.bottleneck.layers.14.conv.weight", "transUpBlocks.0.convTrans.weight",
                        "denseBlocksUp.4.layers.3.conv.weight", "finalConv.weight", "finalConv.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  EXPECT_FALSE(params.contains("classification_head.3.weight"));
  // 103: 48 + 16 x (4 + 5 + 7 + 10 + 12) = 656 channels before the bottleneck's 15 x 16 = 240.
  EXPECT_EQ(params["transDownBlocks.4.conv.weight"].size(0), 656);
  EXPECT_EQ(params["transUpBlocks.0.convTrans.weight"].sizes(), torch::IntArrayRef({240, 240, 3, 3}));
  // The last up block: TransitionUp output (16 x 5) + the first skip (48 + 16 x 4), plus 4 layers.
  EXPECT_EQ(params["finalConv.weight"].sizes(), torch::IntArrayRef({1, 16 * 5 + (48 + 16 * 4) + 16 * 4, 1, 1}));
  EXPECT_EQ(net->bottleneck_channels(), 240);
}

TEST(FCDenseNet, OutputSizes) {
  torch::NoGradGuard no_grad;
  auto o = FCDenseNetOptions::named("fcdensenet57");
  o.classes = 3;
  o.in_channels = 1;
  FCDenseNet net(o);
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 3, 64, 64}));
  EXPECT_EQ(net->forward(torch::randn({2, 1, 96, 64})).sizes(), torch::IntArrayRef({2, 3, 96, 64}));
  EXPECT_EQ(net->forward(torch::randn({1, 1, 65, 97})).sizes(), torch::IntArrayRef({1, 3, 65, 97}));
}

TEST(FCDenseNet, ClassifierAndAuxiliaryHead) {
  torch::NoGradGuard no_grad;
  ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "fcdensenet103";
  spec.classes = 2;
  spec.dropout = 0.5;
  auto classifier = models::build_model(spec);
  classifier->eval();
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_EQ(classifier->forward(x).sizes(), torch::IntArrayRef({2, 2}));
  const auto cp = classifier->named_parameters();
  EXPECT_EQ(cp["classification_head.3.weight"].sizes(), torch::IntArrayRef({2, 240}));
  for (const auto& p : cp)
    EXPECT_TRUE(p.key().rfind("transUp", 0) != 0 && p.key().rfind("denseBlocksUp", 0) != 0 &&
                p.key().rfind("finalConv", 0) != 0)
        << "up path in a classifier: " << p.key();
  // Down path + bottleneck + head: the segmentation model's count without the up path and finalConv.
  FCDenseNet full(FCDenseNetOptions::named("fcdensenet103"));
  int64_t down = 0;
  for (const auto& p : full->named_parameters())
    if (p.key().rfind("transUp", 0) != 0 && p.key().rfind("denseBlocksUp", 0) != 0 &&
        p.key().rfind("finalConv", 0) != 0)
      down += p.value().numel();
  EXPECT_EQ(models::count_parameters(*classifier), down + 240 * 2 + 2);

  spec.arch = "fcdensenet";
  spec.encoder = "fcdensenet57";
  spec.aux_head = true;
  auto seg = models::build_model(spec);
  seg->eval();
  const auto all = seg->forward_all(x);
  EXPECT_EQ(all.logits.sizes(), torch::IntArrayRef({2, 2, 64, 64}));
  EXPECT_EQ(all.aux_logits.sizes(), torch::IntArrayRef({2, 2}));
  EXPECT_TRUE(torch::equal(all.logits, seg->forward(x)));
  EXPECT_EQ(seg->named_parameters()["classification_head.3.weight"].sizes(), torch::IntArrayRef({2, 12 * 4}));
}

TEST(FCDenseNet, FoldingFoldsNothingAndKeepsOutputs) {
  torch::NoGradGuard no_grad;
  FCDenseNet net(FCDenseNetOptions::named("fcdensenet57"));
  net->eval();
  const auto x = torch::randn({1, 3, 64, 64});
  const auto before = net->forward(x);
  const auto params = models::count_parameters(*net);
  models::prepare_for_inference(*net, /*channels_last=*/false);  // does not throw
  EXPECT_EQ(models::count_parameters(*net), params);
  EXPECT_LE((net->forward(x) - before).abs().max().item<double>(), 1e-5);
}

TEST(FCDenseNet, RegistryErrorsListTheChoices) {
  ModelSpec spec;
  spec.arch = "fcdensenet";  // with the default encoder, resnet34
  auto msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("fcdensenet57, fcdensenet67, fcdensenet103"), std::string::npos) << msg;
  spec.encoder = "fcdensenet103";
  spec.attention = "scse";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("'scse'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid values are none"), std::string::npos) << msg;
  spec.attention = "none";
  spec.decoder_channels = {1, 2, 3, 4, 5};
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("decoder_channels"), std::string::npos);
  spec.decoder_channels.clear();
  spec.encoder_depth = 4;
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("encoder_depth must be 5"), std::string::npos);
  spec = ModelSpec();
  spec.encoder = "fcdensenet103";  // arch unet
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("arch fcdensenet or classifier"), std::string::npos) << msg;
  spec = ModelSpec();
  spec.arch = "classifier";
  spec.encoder = "fcdensenet99";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("fcdensenet103"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resnet34"), std::string::npos) << msg;
  EXPECT_NE(test::error_of([] { FCDenseNetOptions::named("tiramisu"); }).find("fcdensenet57, fcdensenet67"),
            std::string::npos);
}

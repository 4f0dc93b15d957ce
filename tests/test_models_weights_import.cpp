// Importing foreign weights into ptx models by the naming rules (state_dict_import.h): ImageNet
// classifiers into a segmentation encoder (with a 1-channel stem), DataParallel prefixes,
// segmentation checkpoints, strict errors and non-strict reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/models/registry.h"
#include "ptx/models/state_dict_import.h"
#include "ptx/models/weight_file.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;

namespace {

constexpr const char* kScript = R"PY(
import sys, torch, torchvision
OUT = sys.argv[1]
torch.manual_seed(0)
m = torchvision.models.resnet34()
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        with torch.no_grad():
            mod.weight.uniform_(0.5, 1.5)
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.num_batches_tracked.fill_(11)
torch.save(m.state_dict(), OUT + "/resnet34_imagenet.pth")
)PY";

models::ModelSpec spec_of(const std::string& json) { return nlohmann::json::parse(json).get<models::ModelSpec>(); }

// A resnet18 classifier's tensors (torchvision names), with distinctive batch-norm buffers.
models::NamedTensors resnet18_classifier_tensors(int64_t classes = 1000) {
  torch::manual_seed(5);
  auto spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 1000})");
  spec.classes = classes;
  auto m = models::build_model(spec);
  auto t = models::named_tensors(*m);
  torch::NoGradGuard no_grad;
  for (auto& [name, v] : t) {
    if (name.find("running_mean") != std::string::npos) v.uniform_(-1, 1);
    if (name.find("num_batches_tracked") != std::string::npos) v.fill_(3);
  }
  return t;
}

}  // namespace

class ModelsWeightsImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ref_ = test::run_python_reference(kScript).release(); }
  static void TearDownTestSuite() {
    delete ref_;
    ref_ = nullptr;
  }
  static test::PythonReference* ref_;
};
test::PythonReference* ModelsWeightsImport::ref_ = nullptr;

TEST_F(ModelsWeightsImport, ImagenetResnet34IntoOneChannelUnetEncoder) {
  if (!ref_->skip_reason.empty()) GTEST_SKIP() << ref_->skip_reason;
  ASSERT_TRUE(ref_->failure.empty()) << ref_->failure;
  const auto file = models::read_weights(ref_->dir / "resnet34_imagenet.pth");
  const auto spec = spec_of(R"({"arch": "unet", "encoder": "resnet34", "in_channels": 1})");
  auto model = models::build_model(spec);
  const auto decoder_before = models::named_tensors(*model).at("decoder.blocks.0.conv1.0.weight").clone();
  const auto report = models::import_weights(*model, spec, file.tensors);
  EXPECT_EQ(report.mapping, "into the encoder");
  EXPECT_EQ(report.target, "encoder");
  EXPECT_TRUE(report.load.complete()) << report.describe();
  EXPECT_EQ(report.dropped, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  ASSERT_EQ(report.adapted.size(), 1u);
  EXPECT_EQ(report.adapted[0], "encoder.conv1.weight: 3 -> 1 input channels");
  EXPECT_EQ(report.load.loaded, file.tensors.size() - 2);
  const auto got = models::named_tensors(*model);
  std::size_t buffers = 0;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("fc.", 0) == 0) continue;
    const auto& mine = got.at("encoder." + name);
    if (name == "conv1.weight") {
      EXPECT_EQ(mine.sizes(), torch::IntArrayRef({64, 1, 7, 7}));
      EXPECT_TRUE(torch::allclose(mine, t.sum(1, true)));
      continue;
    }
    EXPECT_TRUE(torch::equal(mine, t)) << name;
    buffers += name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos;
  }
  EXPECT_EQ(buffers, 3u * 36u);  // every batch norm's running mean, variance and counter
  EXPECT_EQ(got.at("encoder.layer3.2.bn1.num_batches_tracked").item<int64_t>(), 11);
  EXPECT_TRUE(torch::equal(decoder_before, got.at("decoder.blocks.0.conv1.0.weight")));
  EXPECT_NE(report.describe().find("decoder and heads keep their initial weights"), std::string::npos);
}

TEST_F(ModelsWeightsImport, DataParallelPrefixIntoTheSameClassifier) {
  models::NamedTensors dp;
  const auto plain = resnet18_classifier_tensors();
  for (const auto& [k, v] : plain) dp.emplace("module." + k, v);
  const auto spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 1000})");
  auto model = models::build_model(spec);
  const auto report = models::import_weights(*model, spec, dp);
  EXPECT_EQ(report.stripped_prefix, "module.");
  EXPECT_EQ(report.mapping, "as stored");
  EXPECT_TRUE(report.load.complete());
  EXPECT_EQ(report.load.loaded, plain.size());
  for (const auto& [k, v] : models::named_tensors(*model)) EXPECT_TRUE(torch::equal(v, plain.at(k))) << k;
}

TEST_F(ModelsWeightsImport, WrapperPrefixOfLightningIsRemoved) {
  models::NamedTensors wrapped;
  for (const auto& [k, v] : resnet18_classifier_tensors()) wrapped.emplace("model." + k, v);
  const auto spec = spec_of(R"({"arch": "unet", "encoder": "resnet18"})");
  auto model = models::build_model(spec);
  const auto report = models::import_weights(*model, spec, wrapped);
  EXPECT_EQ(report.stripped_prefix, "model.");
  EXPECT_EQ(report.mapping, "into the encoder");
  EXPECT_EQ(report.dropped, (std::vector<std::string>{"model.fc.bias", "model.fc.weight"}));
}

TEST_F(ModelsWeightsImport, StrictErrorListsMissingUnexpectedAndMisShapedNames) {
  auto t = resnet18_classifier_tensors();
  t.erase("layer1.0.conv1.weight");
  t["layer1.0.conv9.weight"] = torch::zeros({64, 64, 3, 3});
  t["layer4.1.bn2.weight"] = torch::zeros({3});
  const auto spec = spec_of(R"({"arch": "unet", "encoder": "resnet18"})");
  auto model = models::build_model(spec);
  const auto before = models::named_tensors(*model).at("encoder.layer2.0.conv1.weight").clone();
  const auto msg = test::error_of([&] { models::import_weights(*model, spec, t); });
  for (const char* s : {"into the encoder", "nothing was loaded", "1 missing: layer1.0.conv1.weight",
                        "1 unexpected: layer1.0.conv9.weight", "1 mis-shaped: layer4.1.bn2.weight: file [3] vs model [512]"})
    EXPECT_NE(msg.find(s), std::string::npos) << s << " not in: " << msg;
  EXPECT_TRUE(torch::equal(before, models::named_tensors(*model).at("encoder.layer2.0.conv1.weight")));

  models::ImportOptions lenient;
  lenient.strict = false;
  const auto report = models::import_weights(*model, spec, t, lenient);
  EXPECT_EQ(report.load.missing, std::vector<std::string>{"encoder.layer1.0.conv1.weight"});
  EXPECT_EQ(report.load.unexpected, std::vector<std::string>{"layer1.0.conv9.weight"});
  ASSERT_EQ(report.load.mismatched.size(), 1u);
  EXPECT_EQ(report.load.mismatched[0].rfind("encoder.layer4.1.bn2.weight: file [3] vs model [512]", 0), 0u);
  EXPECT_EQ(report.load.loaded, t.size() - 2 /*fc*/ - 2 /*unexpected, mis-shaped*/);
  EXPECT_TRUE(torch::equal(t.at("layer2.0.conv1.weight"), models::named_tensors(*model).at("encoder.layer2.0.conv1.weight")));
  EXPECT_NE(report.describe().find("1 missing"), std::string::npos);
}

TEST_F(ModelsWeightsImport, ClassifierWithOtherClassCountFailsStrictlyLoadsTheBackboneOtherwise) {
  const auto spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 2})");
  auto model = models::build_model(spec);
  const auto t = resnet18_classifier_tensors();
  const auto msg = test::error_of([&] { models::import_weights(*model, spec, t); });
  EXPECT_NE(msg.find("fc.weight: file [1000, 512] vs model [2, 512]"), std::string::npos) << msg;
  models::ImportOptions lenient;
  lenient.strict = false;
  const auto report = models::import_weights(*model, spec, t, lenient);
  EXPECT_EQ(report.load.loaded, t.size() - 2);
  EXPECT_EQ(report.load.mismatched.size(), 2u);
}

TEST_F(ModelsWeightsImport, SegmentationCheckpointAsStoredAndIntoAClassifier) {
  const auto spec = spec_of(R"({"arch": "unet", "encoder": "resnet18", "decoder_channels": [32, 16, 16, 8, 8]})");
  torch::manual_seed(9);
  auto a = models::build_model(spec), b = models::build_model(spec);
  const auto report = models::import_weights(*b, spec, models::named_tensors(*a));
  EXPECT_EQ(report.mapping, "as stored");
  EXPECT_TRUE(report.load.complete());
  for (const auto& [k, v] : models::named_tensors(*a)) EXPECT_TRUE(torch::equal(v, models::named_tensors(*b).at(k))) << k;

  // The encoder of a segmentation model into a classifier: its head is left as initialised.
  const auto cspec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 1})");
  auto c = models::build_model(cspec);
  models::ImportOptions lenient;
  lenient.strict = false;
  const auto r2 = models::import_weights(*c, cspec, models::named_tensors(*a), lenient);
  EXPECT_EQ(r2.mapping, "from a segmentation encoder");
  EXPECT_EQ(r2.load.missing, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_TRUE(r2.load.unexpected.empty());
  EXPECT_FALSE(r2.dropped.empty());
  EXPECT_TRUE(torch::equal(models::named_tensors(*a).at("encoder.layer3.1.bn2.running_var"),
                           models::named_tensors(*c).at("layer3.1.bn2.running_var")));
}

TEST_F(ModelsWeightsImport, NoMatchingNameIsAnErrorEvenNonStrict) {
  const auto spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 1})");
  auto model = models::build_model(spec);
  models::ImportOptions lenient;
  lenient.strict = false;
  const auto msg = test::error_of(
      [&] { models::import_weights(*model, spec, {{"features.0.weight", torch::zeros({1})}, {"x.y", torch::zeros({1})}}, lenient); });
  EXPECT_NE(msg.find("no tensor name matches the classifier with encoder resnet18"), std::string::npos) << msg;
}

namespace {
// A stand-in for a DenseNet encoder's names: features.denseblock1.denselayer1.{norm1,conv1}.
struct Node : torch::nn::Module {};
struct FakeDenseNet : models::ModelImpl {
  FakeDenseNet() {
    auto layer = std::make_shared<Node>();
    layer->register_module("norm1", torch::nn::BatchNorm2d(4));
    layer->register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 4, 1).bias(false)));
    auto block = std::make_shared<Node>();
    block->register_module("denselayer1", layer);
    auto features = std::make_shared<Node>();
    features->register_module("denseblock1", block);
    register_module("features", features);
  }
  torch::Tensor forward(const torch::Tensor& x) override { return x; }
};
}  // namespace

TEST_F(ModelsWeightsImport, OldTorchvisionDenseNetNamesAreRenamed) {
  FakeDenseNet model;
  models::NamedTensors old{{"features.denseblock1.denselayer1.norm.1.weight", torch::full({4}, 2.0)},
                           {"features.denseblock1.denselayer1.norm.1.bias", torch::full({4}, 3.0)},
                           {"features.denseblock1.denselayer1.norm.1.running_mean", torch::full({4}, 4.0)},
                           {"features.denseblock1.denselayer1.norm.1.running_var", torch::full({4}, 5.0)},
                           {"features.denseblock1.denselayer1.norm1.num_batches_tracked", torch::tensor(int64_t{6})},
                           {"features.denseblock1.denselayer1.conv.1.weight", torch::full({4, 4, 1, 1}, 7.0)}};
  const auto report = models::import_weights(model, models::ModelSpec{}, old);
  EXPECT_TRUE(report.load.complete()) << report.describe();
  EXPECT_EQ(report.load.loaded, 6u);
  const auto got = models::named_tensors(model);
  EXPECT_EQ(got.at("features.denseblock1.denselayer1.norm1.running_var")[0].item<float>(), 5.0f);
  EXPECT_EQ(got.at("features.denseblock1.denselayer1.conv1.weight")[0][0][0][0].item<float>(), 7.0f);
}

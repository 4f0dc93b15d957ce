// U-Net (src/ptx/models/decoders/unet) and the model registry (src/ptx/models/registry):
// segmentation_models' parameter counts and names, output sizes, and errors listing the choices.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/registry.h"

#include "test_support.h"

using namespace ptx;
using models::ModelSpec;
using models::UNet;

TEST(UNet, ParameterCountsMatchSegmentationModels) {
  EXPECT_EQ(models::count_parameters(*UNet("resnet34")), 24436369);
  EXPECT_EQ(models::count_parameters(*UNet("resnet50")), 32521105);
  ModelSpec spec;
  spec.encoder = "resnet34";
  EXPECT_EQ(models::count_parameters(*models::build_model(spec)), 24436369);
  spec.encoder = "resnet50";
  EXPECT_EQ(models::count_parameters(*models::build_model(spec)), 32521105);
}

TEST(UNet, NamesFollowSegmentationModels) {
  UNet net("resnet34");
  const auto params = net->named_parameters();
  for (const char* k : {"encoder.conv1.weight", "encoder.layer4.2.bn2.bias", "decoder.blocks.0.conv1.0.weight",
                        "decoder.blocks.0.conv1.1.weight", "decoder.blocks.4.conv2.0.weight",
                        "segmentation_head.0.weight", "segmentation_head.0.bias"})
    EXPECT_TRUE(params.contains(k)) << k;
  EXPECT_TRUE(net->named_buffers().contains("decoder.blocks.3.conv2.1.running_var"));
  for (const auto& p : params) {
    EXPECT_EQ(p.key().find("encoder.fc"), std::string::npos) << "classifier left in the encoder: " << p.key();
    // Decoder convolutions feed batch norm: no bias.
    if (p.key().rfind("decoder.", 0) == 0 && p.key().find(".0.bias") != std::string::npos)
      ADD_FAILURE() << "bias before batch norm: " << p.key();
  }
  // Shapes of the first block: 512 (head) + 256 (skip) -> 256.
  EXPECT_EQ(params["decoder.blocks.0.conv1.0.weight"].sizes(), torch::IntArrayRef({256, 768, 3, 3}));
  EXPECT_EQ(params["decoder.blocks.4.conv1.0.weight"].sizes(), torch::IntArrayRef({16, 32, 3, 3}));
  EXPECT_EQ(params["segmentation_head.0.weight"].sizes(), torch::IntArrayRef({1, 16, 3, 3}));
}

TEST(UNet, DecoderBlocksEndInReLU) {
  torch::NoGradGuard no_grad;
  UNet net("resnet18");
  net->eval();
  const auto x = torch::randn({1, 3, 64, 64});
  const auto d = net->decoder()->forward(net->encoder()->features(x));
  EXPECT_EQ(d.sizes(), torch::IntArrayRef({1, 16, 64, 64}));
  EXPECT_GE(d.min().item<float>(), 0.0f);
  EXPECT_GT(d.max().item<float>(), 0.0f);
  // The head has no activation: logits take both signs.
  const auto y = net->forward(x);
  EXPECT_LT(y.min().item<float>(), 0.0f);
  EXPECT_GT(y.max().item<float>(), 0.0f);
}

TEST(UNet, OutputHasTheInputsSize) {
  torch::NoGradGuard no_grad;
  UNet net("resnet34", /*classes=*/1);
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({1, 3, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
  EXPECT_EQ(net->forward(torch::randn({2, 3, 64, 96})).sizes(), torch::IntArrayRef({2, 1, 64, 96}));
  // Not multiples of 32 (segmentation_models refuses these): upsampling goes to each skip's size.
  EXPECT_EQ(net->forward(torch::randn({1, 3, 72, 88})).sizes(), torch::IntArrayRef({1, 1, 72, 88}));
  EXPECT_EQ(net->forward(torch::randn({1, 3, 65, 97})).sizes(), torch::IntArrayRef({1, 1, 65, 97}));
}

TEST(UNet, SingleChannelInputAndSeveralClasses) {
  torch::NoGradGuard no_grad;
  UNet net("resnet50", /*classes=*/3, /*in_channels=*/1);
  net->eval();
  EXPECT_EQ(net->named_parameters()["encoder.conv1.weight"].size(1), 1);
  EXPECT_EQ(net->forward(torch::randn({1, 1, 64, 64})).sizes(), torch::IntArrayRef({1, 3, 64, 64}));
}

TEST(UNet, ShallowEncoderAndCustomDecoderChannels) {
  torch::NoGradGuard no_grad;
  UNet net("resnet18", 1, 3, std::vector<int64_t>{64, 32, 16});
  net->eval();
  EXPECT_EQ(net->encoder()->depth(), 3);
  EXPECT_EQ(net->forward(torch::randn({1, 3, 64, 64})).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
}

TEST(UNet, TrainsEndToEnd) {
  torch::manual_seed(0);
  UNet net("resnet18");
  net->train();
  const auto x = torch::randn({2, 3, 64, 64});
  const auto target = (torch::rand({2, 1, 64, 64}) > 0.5).to(torch::kFloat);
  const auto loss = torch::binary_cross_entropy_with_logits(net->forward(x), target);
  loss.backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  EXPECT_GT(net->named_parameters()["decoder.blocks.0.conv1.0.weight"].grad().abs().sum().item<float>(), 0.0f);
}

TEST(Models, RegistryErrorsListTheChoices) {
  ModelSpec spec;
  spec.encoder = "resnet35";
  auto msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("'resnet35'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resnet18, resnet34, resnet50, resnet101"), std::string::npos) << msg;
  msg = test::error_of([] { UNet("vgg17"); });
  EXPECT_NE(msg.find("'vgg17'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resnet34"), std::string::npos) << msg;
  msg = test::error_of([] { models::build_encoder("densenet999"); });
  EXPECT_NE(msg.find("resnet101"), std::string::npos) << msg;

  spec = ModelSpec();
  spec.arch = "segnet";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("'segnet'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unet, classifier"), std::string::npos) << msg;

  spec = ModelSpec();
  spec.decoder_channels = {256, 128, 64};
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("depth 5"), std::string::npos) << msg;
  spec = ModelSpec();
  spec.classes = 0;
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("classes"), std::string::npos);
  spec = ModelSpec();
  spec.encoder_depth = 6;
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("1, 2, 3, 4, 5"), std::string::npos);
  spec = ModelSpec();
  spec.arch = "classifier";
  spec.decoder_channels = {1, 2, 3, 4, 5};
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("no decoder"), std::string::npos);
}

TEST(Models, RegistryBuildsEveryCombination) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  for (const auto& entry : models::encoder_table()) {
    // The table's channels are those the built encoder reports. Map 0 is the input, except for
    // VGG (its first stage: 64 channels at the input's resolution, see vgg.h).
    auto enc = models::build_encoder(entry.name);
    auto expected = entry.out_channels;
    expected.insert(expected.begin(), entry.name.rfind("vgg", 0) == 0 ? 64 : 3);
    EXPECT_EQ(enc->out_channels(), expected) << entry.name;
    EXPECT_EQ(enc->encoder_name(), entry.name);
    // The largest: building them once is enough.
    if (entry.name == "resnet101" || entry.name == "se_resnext101_32x4d") continue;
    for (const auto& arch : models::arch_names()) {
      if (arch == "fcdensenet") continue;  // takes its own encoders (test_models_fcdensenet.cpp)
      ModelSpec spec;
      spec.arch = arch;
      spec.encoder = entry.name;
      spec.classes = 2;
      auto model = models::build_model(spec);
      model->eval();
      const auto y = model->forward(x);
      if (arch == "classifier")
        EXPECT_EQ(y.sizes(), torch::IntArrayRef({1, 2})) << entry.name;
      else
        EXPECT_EQ(y.sizes(), torch::IntArrayRef({1, 2, 64, 64})) << entry.name << " " << arch;
    }
  }
  ModelSpec spec;
  spec.encoder_depth = 4;  // default decoder channels cut to the depth
  auto model = models::build_model(spec);
  model->eval();
  EXPECT_EQ(model->forward(x).sizes(), torch::IntArrayRef({1, 1, 64, 64}));
}

TEST(Models, SpecJsonRoundTripAndErrors) {
  ModelSpec spec;
  spec.encoder = "resnet50";
  spec.in_channels = 1;
  spec.decoder_channels = {128, 64, 32, 16, 8};
  const nlohmann::json j = spec;
  EXPECT_EQ(j["encoder"], "resnet50");
  const auto back = j.get<ModelSpec>();
  EXPECT_EQ(back.encoder, "resnet50");
  EXPECT_EQ(back.in_channels, 1);
  EXPECT_EQ(back.decoder_channels, spec.decoder_channels);
  EXPECT_EQ(back.arch, "unet");
  // Absent keys take the defaults.
  const auto partial = nlohmann::json::parse(R"({"encoder": "resnet18", "classes": 2})").get<ModelSpec>();
  EXPECT_EQ(partial.encoder, "resnet18");
  EXPECT_EQ(partial.classes, 2);
  EXPECT_EQ(partial.in_channels, 3);
  EXPECT_TRUE(partial.decoder_channels.empty());

  auto msg = test::error_of([] { nlohmann::json::parse(R"({"encodr": "resnet18"})").get<ModelSpec>(); });
  EXPECT_NE(msg.find("'encodr'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("arch, encoder, in_channels, classes, encoder_depth, decoder_channels"), std::string::npos) << msg;
  msg = test::error_of([] { nlohmann::json::parse(R"({"classes": "two"})").get<ModelSpec>(); });
  EXPECT_NE(msg.find("'classes' must be an integer"), std::string::npos) << msg;
  msg = test::error_of([] { nlohmann::json::parse(R"({"decoder_channels": [1, "x"]})").get<ModelSpec>(); });
  EXPECT_NE(msg.find("list of integers"), std::string::npos) << msg;
}
// Decoder building blocks (src/ptx/models/decoders/blocks) and the U-Net options they give:
// scSE attention (segmentation_models' SCSEModule) in U-Net decoder blocks, the center block for
// VGG encoders, the attention gate.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/blocks.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/decoders/unetplusplus.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"
#include "test_support.h"

using namespace ptx;
using models::ModelSpec;
using models::UNet;

namespace {

// SCSEModule(C) parameters: cSE (C r + r) + (r C + C), sSE C + 1, r = max(1, C / 16).
int64_t scse_parameters(int64_t c) {
  const int64_t r = std::max<int64_t>(1, c / 16);
  return (c * r + r) + (r * c + c) + (c + 1);
}

// The scSE parameters a U-Net decoder adds: attention1 on in + skip channels (also in the last
// block, which has no skip, as in segmentation_models) and attention2 on the block's output.
int64_t unet_scse_parameters(const std::vector<int64_t>& encoder_channels, const std::vector<int64_t>& decoder) {
  const size_t depth = decoder.size();
  int64_t n = 0;
  for (size_t i = 0; i < depth; ++i) {
    const int64_t in = i == 0 ? encoder_channels[depth] : decoder[i - 1];
    const int64_t skip = i + 1 < depth ? encoder_channels[depth - 1 - i] : 0;
    n += scse_parameters(in + skip) + scse_parameters(decoder[i]);
  }
  return n;
}

// A stand-in encoder of any name (to test what depends on the encoder's name, e.g. VGG's center
// block): depth 5, each stage a strided 3x3 convolution.
class NamedEncoderImpl : public models::EncoderImpl {
 public:
  NamedEncoderImpl(std::string name, std::vector<int64_t> channels) : name_(std::move(name)), channels_(channels) {
    stages = register_module("stages", torch::nn::ModuleList());
    for (size_t i = 1; i < channels.size(); ++i) {
      convs_.emplace_back(torch::nn::Conv2dOptions(channels[i - 1], channels[i], 3).stride(2).padding(1));
      stages->push_back(convs_.back());
    }
  }
  std::vector<torch::Tensor> features(const torch::Tensor& x) override {
    std::vector<torch::Tensor> f{x};
    for (auto& conv : convs_) f.push_back(torch::relu(conv->forward(f.back())));
    return f;
  }
  std::vector<int64_t> out_channels() const override { return channels_; }
  std::string encoder_name() const override { return name_; }
  void fold_batch_norm() override {}

 private:
  std::string name_;
  std::vector<int64_t> channels_;
  torch::nn::ModuleList stages{nullptr};
  std::vector<torch::nn::Conv2d> convs_;
};

}  // namespace

TEST(DecoderBlocks, SCSEModuleMatchesItsDefinition) {
  torch::manual_seed(0);
  models::SCSEModule scse(32);
  EXPECT_EQ(models::count_parameters(*scse), scse_parameters(32));
  const auto p = scse->named_parameters();
  EXPECT_EQ(p["cSE.1.weight"].sizes(), torch::IntArrayRef({2, 32, 1, 1}));
  EXPECT_EQ(p["cSE.3.weight"].sizes(), torch::IntArrayRef({32, 2, 1, 1}));
  EXPECT_EQ(p["sSE.0.weight"].sizes(), torch::IntArrayRef({1, 32, 1, 1}));
  // x * cSE(x) + x * sSE(x), recomputed by hand.
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 32, 5, 7});
  const auto pooled = x.mean({2, 3}, /*keepdim=*/true);
  const auto c = torch::sigmoid(torch::conv2d(torch::relu(torch::conv2d(pooled, p["cSE.1.weight"], p["cSE.1.bias"])),
                                              p["cSE.3.weight"], p["cSE.3.bias"]));
  const auto s = torch::sigmoid(torch::conv2d(x, p["sSE.0.weight"], p["sSE.0.bias"]));
  EXPECT_LE((scse->forward(x) - (x * c + x * s)).abs().max().item<double>(), 1e-6);
  // Fewer than 16 channels: one hidden channel (segmentation_models would build an empty layer).
  EXPECT_EQ(models::SCSEModule(8)->named_parameters()["cSE.1.weight"].size(0), 1);
}

TEST(DecoderBlocks, UNetScseAddsExactlyTheExpectedParametersAndChangesTheOutput) {
  const std::vector<int64_t> dec{256, 128, 64, 32, 16};
  const int64_t plain = 24436369;  // segmentation_models' Unet resnet34
  ModelSpec spec;
  spec.attention = "scse";
  auto net = models::build_model(spec);
  const int64_t extra = unet_scse_parameters({3, 64, 64, 128, 256, 512}, dec);
  EXPECT_EQ(extra, 113991);  // as Python computes for segmentation_models' Unet(attention_type="scse")
  EXPECT_EQ(models::count_parameters(*net), plain + extra);
  const auto params = net->named_parameters();
  for (const char* k : {"decoder.blocks.0.attention1.attention.cSE.1.weight",
                        "decoder.blocks.0.attention2.attention.sSE.0.bias",
                        "decoder.blocks.4.attention1.attention.cSE.3.weight",
                        "decoder.blocks.4.attention2.attention.cSE.1.weight"})
    EXPECT_TRUE(params.contains(k)) << k;
  EXPECT_EQ(params["decoder.blocks.0.attention1.attention.cSE.1.weight"].sizes(),
            torch::IntArrayRef({768 / 16, 768, 1, 1}));
  // resnet50 too.
  spec.encoder = "resnet50";
  EXPECT_EQ(models::count_parameters(*models::build_model(spec)),
            32521105 + unet_scse_parameters({3, 64, 256, 512, 1024, 2048}, dec));

  // The same weights with and without scSE: the attention changes the output.
  torch::manual_seed(1);
  models::SegmentationOptions o;
  UNet without(models::build_encoder("resnet18", 3, 3), std::vector<int64_t>{64, 32, 16}, o);
  o.attention = "scse";
  UNet with(models::build_encoder("resnet18", 3, 3), std::vector<int64_t>{64, 32, 16}, o);
  with->eval();
  without->eval();
  const auto report = [&] {
    torch::NoGradGuard no_grad;
    const auto src = without->named_parameters();
    auto dst = with->named_parameters();
    for (const auto& p : src) dst[p.key()].copy_(p.value());
    return src.size();
  }();
  EXPECT_EQ(with->named_parameters().size(), report + 3 * 2 * 6);  // 2 scSE a block, 6 tensors each
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  EXPECT_GT((with->forward(x) - without->forward(x)).abs().max().item<double>(), 1e-3);
}

TEST(DecoderBlocks, ScseFoldsAndTrains) {
  torch::manual_seed(2);
  models::SegmentationOptions o;
  o.attention = "scse";
  UNet net(models::build_encoder("resnet18", 3, 3), std::vector<int64_t>{32, 16, 8}, o);
  net->train();
  const auto x = torch::randn({2, 3, 64, 64});
  torch::binary_cross_entropy_with_logits(net->forward(x), torch::rand({2, 1, 64, 64})).backward();
  for (const auto& p : net->named_parameters()) {
    // segmentation_models' last block registers attention1 but has no skip to apply it to.
    if (p.key().rfind("decoder.blocks.2.attention1.", 0) == 0) {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
      continue;
    }
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
  net->eval();
  torch::NoGradGuard no_grad;
  const auto before = net->forward(x);
  models::prepare_for_inference(*net, /*channels_last=*/false);
  EXPECT_LE((net->forward(x) - before).abs().max().item<double>(), 1e-4);
}

TEST(DecoderBlocks, CenterBlockForVggEncodersOnly) {
  const std::vector<int64_t> channels{3, 8, 16, 16, 32, 32};
  const std::vector<int64_t> dec{32, 16, 16, 8, 8};
  auto vgg = std::make_shared<NamedEncoderImpl>("vgg16_bn", channels);
  auto other = std::make_shared<NamedEncoderImpl>("tiny", channels);
  UNet with(vgg, dec, models::SegmentationOptions{});
  UNet without(other, dec, models::SegmentationOptions{});
  const auto params = with->named_parameters();
  EXPECT_TRUE(params.contains("decoder.center.0.0.weight"));
  EXPECT_TRUE(with->named_buffers().contains("decoder.center.1.1.running_var"));
  EXPECT_FALSE(without->named_parameters().contains("decoder.center.0.0.weight"));
  // Two Conv2dReLU(32, 32): 2 x (9 x 32 x 32 + 2 x 32).
  EXPECT_EQ(models::count_parameters(*with) - models::count_parameters(*without), 2 * (9 * 32 * 32 + 64));
  with->eval();
  without->eval();
  {
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({1, 3, 64, 96});
    EXPECT_EQ(with->forward(x).sizes(), torch::IntArrayRef({1, 1, 64, 96}));
    // It is applied: changing its weights changes the output.
    const auto before = with->forward(x);
    with->named_parameters()["decoder.center.1.0.weight"].mul_(-1.0);
    EXPECT_GT((with->forward(x) - before).abs().max().item<double>(), 1e-4);
    const auto folded_before = with->forward(x);
    with->fold_batch_norm();
    EXPECT_LE((with->forward(x) - folded_before).abs().max().item<double>(), 1e-4);
    EXPECT_FALSE(with->named_buffers().contains("decoder.center.1.1.running_var"));
  }
  // U-Net++: registered, as segmentation_models does (its forward never calls it).
  models::UNetPlusPlus pp(vgg, dec, models::SegmentationOptions{});
  EXPECT_TRUE(pp->named_parameters().contains("decoder.center.0.0.weight"));
}

TEST(DecoderBlocks, AttentionGateWithZeroPsiPassesHalfTheSkip) {
  torch::manual_seed(3);
  models::AttentionGate gate(/*skip_channels=*/6, /*gating_channels=*/10);
  const auto p = gate->named_parameters();
  // F = 3: W_g 10 x 3 + BN 6, W_x 6 x 3 + BN 6, psi 3 + BN 2; no convolution bias.
  EXPECT_EQ(models::count_parameters(*gate), 30 + 6 + 18 + 6 + 3 + 2);
  EXPECT_FALSE(p.contains("W_g.0.bias"));
  gate->eval();
  torch::NoGradGuard no_grad;
  const auto skip = torch::randn({2, 6, 8, 12}), g = torch::randn({2, 10, 8, 12});
  const auto alpha = gate->coefficients(skip, g);
  EXPECT_EQ(alpha.sizes(), torch::IntArrayRef({2, 1, 8, 12}));
  EXPECT_GE(alpha.min().item<float>(), 0.0f);
  EXPECT_LE(alpha.max().item<float>(), 1.0f);
  EXPECT_GT((alpha.max() - alpha.min()).item<float>(), 1e-3f);  // it varies over the image
  EXPECT_LE((gate->forward(skip, g) - skip * alpha).abs().max().item<double>(), 1e-6);
  p["psi.0.weight"].zero_();
  EXPECT_LE((gate->forward(skip, g) - 0.5 * skip).abs().max().item<double>(), 1e-6);
  EXPECT_NE(test::error_of([&] { gate->forward(skip, torch::randn({2, 10, 4, 6})); }).find("size"),
            std::string::npos);
}

TEST(DecoderBlocks, RegistryAttentionErrorsListTheChoices) {
  ModelSpec spec;
  spec.attention = "cbam";
  auto msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("'cbam'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("none, scse"), std::string::npos) << msg;
  spec = ModelSpec();
  spec.arch = "classifier";
  spec.attention = "scse";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("valid values are none"), std::string::npos) << msg;
  EXPECT_NE(test::error_of([] { models::check_decoder_attention("se"); }).find("none, scse"), std::string::npos);
}

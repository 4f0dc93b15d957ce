// Heads (src/ptx/models/heads): segmentation_models' SegmentationHead and ClassificationHead, and
// the auxiliary head every segmentation arch gets through the registry with aux_head.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/heads/heads.h"
#include "ptx/models/registry.h"
#include "test_support.h"

using namespace ptx;
using models::ModelSpec;

TEST(Heads, SegmentationHeadAnyNumberOfClasses) {
  torch::NoGradGuard no_grad;
  for (int64_t classes : {1, 2, 5}) {
    auto head = models::make_segmentation_head(16, classes);
    const auto p = head->named_parameters();
    EXPECT_EQ(p["0.weight"].sizes(), torch::IntArrayRef({classes, 16, 3, 3}));
    EXPECT_EQ(p["0.bias"].abs().sum().item<float>(), 0.0f);  // smp's initialize_head
    EXPECT_EQ(head->forward(torch::randn({2, 16, 9, 7})).sizes(), torch::IntArrayRef({2, classes, 9, 7}));
  }
  EXPECT_NE(test::error_of([] { models::make_segmentation_head(16, 0); }).find("classes"), std::string::npos);
}

TEST(Heads, ClassificationHeadIsSegmentationModels) {
  torch::manual_seed(0);
  auto head = models::make_classification_head(32, 3, 0.5);
  const auto p = head->named_parameters();
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p["3.weight"].sizes(), torch::IntArrayRef({3, 32}));  // linear is child 3, as smp
  EXPECT_EQ(models::count_parameters(*head), 32 * 3 + 3);
  const auto x = torch::randn({4, 32, 5, 6});
  head->eval();
  torch::NoGradGuard no_grad;
  const auto y = head->forward(x);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({4, 3}));
  // Eval: average pooling then the linear layer.
  EXPECT_LE((y - torch::addmm(p["3.bias"], x.mean({2, 3}), p["3.weight"].t())).abs().max().item<double>(), 1e-5);
  // Training: dropout changes the output; without dropout it does not.
  head->train();
  EXPECT_GT((head->forward(x) - y).abs().max().item<double>(), 1e-4);
  auto plain = models::make_classification_head(32, 3, 0.0);
  plain->train();
  const auto a = plain->forward(x);
  EXPECT_TRUE(torch::equal(a, plain->forward(x)));
  EXPECT_NE(test::error_of([] { models::make_classification_head(32, 3, 1.0); }).find("[0, 1)"), std::string::npos);
}

TEST(Heads, AuxiliaryHeadOnEverySegmentationArch) {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 96});
  for (const char* arch : {"unet", "unetplusplus", "attention_unet"}) {
    ModelSpec spec;
    spec.arch = arch;
    spec.encoder = "resnet18";
    spec.encoder_depth = 3;
    spec.decoder_channels = {32, 16, 8};
    spec.classes = 2;
    spec.aux_head = true;
    spec.dropout = 0.2;
    auto model = models::build_model(spec);
    model->eval();
    const auto p = model->named_parameters();
    // On the deepest encoder map: resnet18 at depth 3 ends with layer2's 128 channels.
    EXPECT_EQ(p["classification_head.3.weight"].sizes(), torch::IntArrayRef({2, 128})) << arch;
    const auto all = model->forward_all(x);
    EXPECT_EQ(all.logits.sizes(), torch::IntArrayRef({2, 2, 64, 96})) << arch;
    EXPECT_EQ(all.aux_logits.sizes(), torch::IntArrayRef({2, 2})) << arch;
    EXPECT_TRUE(torch::equal(all.logits, model->forward(x))) << arch;
    // The head adds exactly its linear layer.
    spec.aux_head = false;
    spec.dropout = 0.0;
    auto plain = models::build_model(spec);
    EXPECT_EQ(models::count_parameters(*model) - models::count_parameters(*plain), 128 * 2 + 2) << arch;
    EXPECT_FALSE(plain->forward_all(x).aux_logits.defined()) << arch;
  }
  // The U-Net's own handle.
  ModelSpec spec;
  spec.encoder = "resnet18";
  spec.aux_head = true;
  auto unet = std::dynamic_pointer_cast<models::UNetImpl>(models::build_model(spec));
  ASSERT_TRUE(unet);
  ASSERT_TRUE(unet->classification_head());
  unet->eval();
  const auto features = unet->encoder()->features(x);
  EXPECT_LE((unet->forward_all(x).aux_logits - unet->classification_head()->forward(features.back()))
                .abs()
                .max()
                .item<double>(),
            1e-6);
}

TEST(Heads, AuxiliaryHeadTrainsWithTheModel) {
  torch::manual_seed(1);
  models::SegmentationOptions o;
  o.aux_head = true;
  o.dropout = 0.3;
  models::UNet net(models::build_encoder("resnet18", 3, 3), std::vector<int64_t>{32, 16, 8}, o);
  net->train();
  const auto out = net->forward_all(torch::randn({2, 3, 64, 64}));
  const auto loss = torch::binary_cross_entropy_with_logits(out.logits, torch::rand({2, 1, 64, 64})) +
                    torch::binary_cross_entropy_with_logits(out.aux_logits, torch::ones({2, 1}));
  loss.backward();
  for (const auto& p : net->named_parameters()) ASSERT_TRUE(p.value().grad().defined()) << p.key();
}

TEST(Heads, RegistryErrorsForHeads) {
  ModelSpec spec;
  spec.dropout = 0.2;  // a U-Net without aux_head has no head to apply it to
  auto msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("aux_head"), std::string::npos) << msg;
  spec = ModelSpec();
  spec.arch = "classifier";
  spec.aux_head = true;
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("no auxiliary head"), std::string::npos) << msg;
  spec = ModelSpec();
  spec.aux_head = true;
  spec.dropout = 1.0;
  EXPECT_NE(test::error_of([&] { models::build_model(spec); }).find("[0, 1)"), std::string::npos);
  spec = ModelSpec();
  spec.arch = "linknet";
  msg = test::error_of([&] { models::build_model(spec); });
  EXPECT_NE(msg.find("unet, classifier, unetplusplus, attention_unet, fcdensenet"), std::string::npos) << msg;
}

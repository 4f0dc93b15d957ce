// The fast inference path (src/ptx/models/fold): batch norm folded into convolutions changes eval
// outputs by no more than 1e-4; channels-last weights on top stay within float noise.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/fold.h"
#include "encoder_test_support.h"
#include "ptx/models/registry.h"

using namespace ptx;

TEST(ModelsFold, UNetResNet34KeepsItsOutputs) {
  torch::manual_seed(5);
  models::UNet net("resnet34");
  test::randomize_batch_norms(*net, {4, 3, 64, 96}, [&](const torch::Tensor& x) { net->forward(x); });
  const size_t bns = test::count_batch_norms(*net);
  EXPECT_EQ(bns, 36u + 10u);  // encoder (stem 1, blocks 32, downsample 3) + decoder (5 blocks x 2)
  const auto params_before = models::count_parameters(*net);
  const double diff = test::fold_difference(*net, torch::randn({1, 3, 64, 96}), [&](const torch::Tensor& x) { return net->forward(x); }, "unet-resnet34");
  std::cout << "[ fold     ] unet-resnet34 max |folded - plain| = " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
  EXPECT_EQ(test::count_batch_norms(*net), 0u);
  for (const auto& b : net->named_buffers()) ADD_FAILURE() << "buffer left after folding: " << b.key();
  // Each batch norm's 2C parameters become the convolution's C bias values.
  int64_t bn_channels = 0;
  for (const auto& p : net->named_parameters())
    if (p.key().size() > 5 && p.key().substr(p.key().size() - 5) == ".bias" &&
        p.key().rfind("segmentation_head", 0) != 0)
      bn_channels += p.value().numel();
  EXPECT_EQ(models::count_parameters(*net), params_before - bn_channels);
  EXPECT_TRUE(net->named_parameters()["encoder.conv1.bias"].defined());
  EXPECT_TRUE(net->named_parameters()["encoder.conv1.weight"].is_contiguous(at::MemoryFormat::ChannelsLast));
  // Folding again changes nothing.
  const auto count = models::count_parameters(*net);
  net->fold_batch_norm();
  EXPECT_EQ(models::count_parameters(*net), count);
}

TEST(ModelsFold, ResNet50ClassifierKeepsItsOutputs) {
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "resnet50";
  spec.classes = 10;
  torch::manual_seed(6);
  auto net = models::build_model(spec);
  test::randomize_batch_norms(*net, {4, 3, 64, 64}, [&](const torch::Tensor& x) { net->forward(x); });
  const double diff = test::fold_difference(*net, torch::randn({2, 3, 64, 64}), [&](const torch::Tensor& x) { return net->forward(x); }, "resnet50 classifier");
  std::cout << "[ fold     ] resnet50 max |folded - plain| = " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
  EXPECT_EQ(test::count_batch_norms(*net), 0u);
}

TEST(ModelsFold, FoldsAConvolutionWithBias) {
  torch::manual_seed(4);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).padding(1));
  torch::nn::BatchNorm2d bn(5);
  {
    torch::NoGradGuard no_grad;
    bn->running_mean.uniform_(-1, 1);
    bn->running_var.uniform_(0.5, 2);
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
  }
  bn->eval();
  const auto x = torch::randn({1, 3, 8, 8});
  torch::NoGradGuard no_grad;
  const auto expected = bn(conv(x));
  auto folded = models::fold_batch_norm_into(conv, bn);
  EXPECT_LE((folded(x) - expected).abs().max().item<double>(), 1e-5);
  // Without a bias of its own, and in double precision.
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(3, 5, 3).padding(1).bias(false));
  plain->to(torch::kDouble);
  bn->to(torch::kDouble);
  const auto xd = x.to(torch::kDouble);
  const auto expected_d = bn(plain(xd));
  auto folded_d = models::fold_batch_norm_into(plain, bn);
  EXPECT_EQ(folded_d->weight.scalar_type(), torch::kDouble);
  EXPECT_LE((folded_d(xd) - expected_d).abs().max().item<double>(), 1e-12);
}

// In double precision folding is exact to rounding: the fp32 differences above (~1e-4) are the
// float noise floor of these networks (a plain fp32 forward is as far from the fp64 one).
TEST(ModelsFold, ExactInDoublePrecision) {
  torch::manual_seed(7);
  models::UNet net("resnet18");
  test::randomize_batch_norms(*net, {4, 3, 64, 64}, [&](const torch::Tensor& x) { net->forward(x); });
  net->to(torch::kDouble);
  const auto x = torch::randn({1, 3, 64, 64}, torch::kDouble);
  torch::NoGradGuard no_grad;
  const auto before = net->forward(x);
  net->fold_batch_norm();
  EXPECT_LE((net->forward(x) - before).abs().max().item<double>(), 1e-10);
}

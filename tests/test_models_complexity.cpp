// Parameter and MAC counts (src/ptx/models/complexity) against known figures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/models/complexity.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/registry.h"

using namespace ptx;

#ifndef NDEBUG
#define PTX_SKIP_IN_DEBUG() GTEST_SKIP() << "count_macs needs a Release build"
#else
#define PTX_SKIP_IN_DEBUG() (void)0
#endif

TEST(ModelsComplexity, CountsConvolutionsAndLinearLayersExactly) {
  PTX_SKIP_IN_DEBUG();
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 8, 3).padding(1).stride(2));
  torch::nn::Conv2d grouped(torch::nn::Conv2dOptions(8, 8, 3).padding(1).groups(4).bias(false));
  torch::nn::Linear fc(10, 4);
  EXPECT_EQ(models::count_macs([&](const torch::Tensor& x) { return conv(x); }, {2, 3, 16, 16}),
            2 * 8 * 8 * 8 * 3 * 9);
  EXPECT_EQ(models::count_macs([&](const torch::Tensor& x) { return grouped(x); }, {1, 8, 5, 5}),
            8 * 5 * 5 * 2 * 9);
  EXPECT_EQ(models::count_macs([&](const torch::Tensor& x) { return fc(x); }, {3, 10}), 3 * 10 * 4);
  // Without bias (aten::matmul inside linear) and batched (addmm is not counted twice).
  torch::nn::Linear fc_nobias(torch::nn::LinearOptions(10, 4).bias(false));
  EXPECT_EQ(models::count_macs([&](const torch::Tensor& x) { return fc_nobias(x); }, {2, 3, 10}), 2 * 3 * 10 * 4);
  EXPECT_EQ(models::count_macs([&](const torch::Tensor& x) { return torch::linear(x, fc->weight, fc->bias); }, {3, 10}),
            3 * 10 * 4);
  EXPECT_EQ(models::count_parameters(*fc), 44);
}

TEST(ModelsComplexity, KnownNetworks) {
  PTX_SKIP_IN_DEBUG();
  // torchvision's model table: resnet50 4.09 GMAC ("GFLOPS") at 224 x 224.
  models::ModelSpec spec;
  spec.arch = "classifier";
  spec.encoder = "resnet50";
  spec.classes = 1000;
  auto resnet50 = models::build_model(spec);
  resnet50->eval();
  const double r50 = models::count_macs([&](const torch::Tensor& x) { return resnet50->forward(x); },
                                        {1, 3, 224, 224}) / 1e9;
  EXPECT_NEAR(r50, 4.09, 0.01);
  // SIIM.md: U-Net ResNet34, 7.8 GMAC at 256 x 256, 31.3 at 512 x 512 (and 125 at 1024).
  models::UNet unet("resnet34");
  unet->eval();
  const auto run = [&](const torch::Tensor& x) { return unet->forward(x); };
  const double g256 = models::count_macs(run, {1, 3, 256, 256}) / 1e9;
  const double g512 = models::count_macs(run, {1, 3, 512, 512}) / 1e9;
  std::cout << "[ macs     ] resnet50 @224 " << r50 << " G; unet-resnet34 @256 " << g256 << " G, @512 " << g512 << " G\n";
  EXPECT_NEAR(g256, 7.8, 0.05);
  EXPECT_NEAR(g512, 31.3, 0.1);
}

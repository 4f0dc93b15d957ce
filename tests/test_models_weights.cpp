// Weight files and by-name loading (src/ptx/models/weights): parameters and buffers, strict errors
// listing the offending names, non-strict reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "ptx/core/error.h"
#include "ptx/models/encoders/resnet.h"
#include "ptx/models/weights.h"
#include "test_support.h"

using namespace ptx;

namespace {

models::ResNet resnet18(int64_t in_channels = 3) {
  auto o = models::ResNetOptions::named("resnet18");
  o.in_channels = in_channels;
  return models::ResNet(o);
}

}  // namespace

TEST(ModelsWeights, RoundTripCopiesParametersAndBuffers) {
  test::TempDir tmp;
  torch::manual_seed(1);
  auto a = resnet18(), b = resnet18();
  {
    torch::NoGradGuard no_grad;
    a->named_buffers()["bn1.running_mean"].uniform_(-1, 1);
    a->named_buffers()["layer1.0.bn2.num_batches_tracked"].fill_(42);
  }
  models::write_tensor_dict(tmp / "w.pt", models::named_tensors(*a));
  const auto tensors = models::read_tensor_dict(tmp / "w.pt");
  EXPECT_EQ(tensors.size(), a->named_parameters().size() + a->named_buffers().size());
  const auto report = models::load_named_tensors(*b, tensors);
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.loaded, tensors.size());
  for (const auto& [name, t] : models::named_tensors(*a))
    EXPECT_TRUE(torch::equal(t, models::named_tensors(*b).at(name))) << name;
  EXPECT_EQ(b->named_buffers()["layer1.0.bn2.num_batches_tracked"].item<int64_t>(), 42);
}

TEST(ModelsWeights, StrictLoadingListsEveryProblemAndLoadsNothing) {
  auto src = models::named_tensors(*resnet18());
  src.erase("layer1.0.conv1.weight");
  src.erase("bn1.running_var");
  src["fc.weight"] = torch::zeros({1000, 512});
  src["conv1.weight"] = torch::zeros({64, 1, 7, 7});
  auto dst = resnet18();
  const auto before = dst->named_parameters()["layer4.1.conv2.weight"].clone();
  const auto msg = test::error_of([&] { models::load_named_tensors(*dst, src); });
  for (const char* s : {"nothing was loaded", "2 missing", "layer1.0.conv1.weight", "bn1.running_var",
                        "1 unexpected: fc.weight", "1 mis-shaped: conv1.weight: file [64, 1, 7, 7] vs model [64, 3, 7, 7]"})
    EXPECT_NE(msg.find(s), std::string::npos) << s << " not in: " << msg;
  EXPECT_TRUE(torch::equal(before, dst->named_parameters()["layer4.1.conv2.weight"]));

  const auto report = models::load_named_tensors(*dst, src, /*strict=*/false);
  EXPECT_FALSE(report.complete());
  EXPECT_EQ(report.missing, (std::vector<std::string>{"layer1.0.conv1.weight", "bn1.running_var"}));
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"fc.weight"});
  ASSERT_EQ(report.mismatched.size(), 1u);
  EXPECT_EQ(report.loaded, src.size() - 2);
  EXPECT_TRUE(torch::equal(src.at("layer4.1.conv2.weight"), dst->named_parameters()["layer4.1.conv2.weight"]));
}

TEST(ModelsWeights, BadFilesAreErrorsNamingTheFile) {
  test::TempDir tmp;
  EXPECT_NE(test::error_of([&] { models::read_tensor_dict(tmp / "absent.pt"); }).find("absent.pt"), std::string::npos);
  std::ofstream(tmp / "junk.pt") << "not a zip";
  EXPECT_NE(test::error_of([&] { models::read_tensor_dict(tmp / "junk.pt"); }).find("junk.pt"), std::string::npos);
  // A list, not a dict.
  const auto bytes = torch::pickle_save(c10::IValue(c10::List<torch::Tensor>({torch::zeros({2})})));
  std::ofstream(tmp / "list.pt", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const auto msg = test::error_of([&] { models::read_tensor_dict(tmp / "list.pt"); });
  EXPECT_NE(msg.find("plain dict"), std::string::npos) << msg;
}

TEST(ModelsWeights, FirstConvolutionAdaptsToOneChannel) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  auto rgb = resnet18(3), grey = resnet18(1);
  auto tensors = models::named_tensors(*rgb);
  tensors["conv1.weight"] = models::adapt_input_channels(tensors.at("conv1.weight"), 1);
  models::load_named_tensors(*grey, tensors);
  rgb->eval();
  grey->eval();
  const auto x = torch::rand({1, 1, 64, 64});
  const auto a = rgb->features(x.expand({1, 3, 64, 64}).contiguous()).back();
  const auto b = grey->features(x).back();
  EXPECT_LE((a - b).abs().max().item<double>(), 1e-4);
  // More channels: cycled RGB, scaled by 3 / n; unchanged for 3.
  const auto w = torch::randn({8, 3, 7, 7});
  const auto w5 = models::adapt_input_channels(w, 5);
  EXPECT_EQ(w5.sizes(), torch::IntArrayRef({8, 5, 7, 7}));
  EXPECT_TRUE(torch::allclose(w5.select(1, 4), w.select(1, 1) * 0.6));
  EXPECT_TRUE(models::adapt_input_channels(w, 3).is_same(w));
  EXPECT_THROW(models::adapt_input_channels(w, 0), core::Error);
}

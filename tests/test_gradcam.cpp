// Grad-CAM (src/ptx/predict/gradcam) and the classifier split it relies on
// (EncoderImpl::classifier_map / classify_map), and `ptx gradcam`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "checkpoint_fixture.h"
#include "ptx/data/image_tensor.h"
#include "ptx/io/csv.h"
#include "ptx/io/image.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/encoders/encoder.h"
#include "ptx/predict/gradcam.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {

models::ModelSpec classifier_spec(const std::string& encoder) {
  models::ModelSpec s;
  s.arch = "classifier";
  s.encoder = encoder;
  s.in_channels = 1;
  return s;
}

predict::ModelInput grey_input(int size) {
  predict::ModelInput in;
  in.size = size;
  in.channels = 1;
  in.normalize = data::Normalization::none;
  return in;
}

// A black radiograph with a white square of side `side` at (x, y).
cv::Mat square_image(int size, int x, int y, int side) {
  cv::Mat m = cv::Mat::zeros(size, size, CV_8U);
  m(cv::Rect(x, y, side, side)).setTo(255);
  return m;
}

double mean_in(const cv::Mat& heat, const cv::Rect& r) { return cv::mean(heat(r))[0]; }

}  // namespace

TEST(ClassifierSplit, TheHeadOnTheLastMapIsTheForwardPass) {
  // VGG is left out: its classifier is 120M parameters (the same two lines of code).
  for (const std::string name : {"resnet18", "se_resnext50_32x4d", "densenet121", "efficientnet_b0"}) {
    torch::manual_seed(3);
    auto model = models::build_model(classifier_spec(name));
    model->eval();
    auto* encoder = dynamic_cast<models::EncoderImpl*>(model.get());
    ASSERT_NE(encoder, nullptr) << name;
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({2, 1, 64, 64});
    const auto map = encoder->classifier_map(x);
    EXPECT_EQ(map.dim(), 4) << name;
    EXPECT_EQ(map.size(2), 2) << name;  // stride 32
    EXPECT_TRUE(torch::allclose(encoder->classify_map(map), model->forward(x), 1e-5, 1e-6)) << name;
  }
  // A segmentation encoder has no head to split.
  auto encoder = models::build_encoder("resnet18", 1);
  EXPECT_FALSE(test::error_of([&] { encoder->classifier_map(torch::zeros({1, 1, 64, 64})); }).empty());
}

TEST(GradCam, TheClassifierHeatFollowsTheEvidence) {
  // ResNet-18 with a linear layer that sums the pooled channels: every channel speaks for the
  // class, so the map is the (positive) activation of the last stage, which a black image leaves
  // at zero except around the white square.
  torch::manual_seed(5);
  auto model = models::build_model(classifier_spec("resnet18"));
  {
    torch::NoGradGuard g;
    for (auto& p : model->named_parameters()) {
      if (p.key() == "fc.weight") p.value().fill_(0.01f);
      if (p.key() == "fc.bias") p.value().zero_();
    }
  }
  const predict::GradCam cam(model, classifier_spec("resnet18"), grey_input(128));
  const cv::Mat top_left = square_image(128, 8, 8, 24), bottom_right = square_image(128, 96, 96, 24);
  const auto a = cam.explain(top_left), b = cam.explain(bottom_right);
  for (const auto* r : {&a, &b}) {
    ASSERT_EQ(r->heat.size(), cv::Size(128, 128));
    ASSERT_EQ(r->heat.type(), CV_32F);
    double lo, hi;
    cv::minMaxLoc(r->heat, &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);  // normalised (the resize may miss the peak cell's centre by a little)
    EXPECT_GT(hi, 0.9);
    EXPECT_LT(lo, 0.5);          // not constant
    EXPECT_EQ(r->map.size(), cv::Size(4, 4));
  }
  const cv::Rect tl(0, 0, 64, 64), br(64, 64, 64, 64);
  EXPECT_GT(mean_in(a.heat, tl), mean_in(a.heat, br));
  EXPECT_GT(mean_in(b.heat, br), mean_in(b.heat, tl));
  // The explained score is the model's own logit for that image.
  torch::NoGradGuard g;
  const auto x = data::image_to_tensor(top_left, 1, data::Normalization::none).unsqueeze(0);
  EXPECT_NEAR(a.score, model->forward(x)[0][0].item<double>(), 1e-4);
  EXPECT_NEAR(a.probability, 1.0 / (1.0 + std::exp(-a.score)), 1e-6);  // float sigmoid
}

TEST(GradCam, SegmentationExplainsTheSummedMaskLogits) {
  torch::manual_seed(7);
  const auto spec = test::small_unet();
  auto model = models::build_model(spec);
  const predict::GradCam cam(model, spec, grey_input(64));
  EXPECT_FALSE(cam.classifier());
  const cv::Mat img = square_image(96, 10, 50, 20);
  const auto r = cam.explain(img);
  ASSERT_EQ(r.heat.size(), img.size());
  EXPECT_EQ(r.map.size(), cv::Size(2, 2));  // the encoder's deepest map for a 64 x 64 input
  double lo, hi;
  cv::minMaxLoc(r.heat, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0 + 1e-6);
  EXPECT_TRUE(cv::checkRange(r.heat));
  // y is the sum of the model's mask logits on the prepared input.
  torch::NoGradGuard g;
  model->eval();
  const auto x = data::image_to_tensor(data::resize_square(img, 64), 1, data::Normalization::none).unsqueeze(0);
  const double sum = model->forward(x)[0][0].sum().item<double>();
  EXPECT_NEAR(r.score, sum, 1e-3 * std::max(1.0, std::abs(sum)));
  // A class the model does not have is an error.
  EXPECT_FALSE(test::error_of([&] { cam.explain(img, 3); }).empty());
}

TEST(GradCam, BlendShowsTheRadiographWhereTheHeatIsZero) {
  const cv::Mat gray(32, 48, CV_8U, cv::Scalar(90));
  cv::Mat heat = cv::Mat::zeros(8, 12, CV_32F);  // resized to the image
  cv::Mat grey3;
  cv::cvtColor(gray, grey3, cv::COLOR_GRAY2BGR);
  EXPECT_EQ(cv::norm(predict::blend_heatmap(gray, heat), grey3, cv::NORM_INF), 0);
  heat.setTo(1.0f);
  const cv::Mat hot = predict::blend_heatmap(gray, heat, 1.0);
  cv::Mat full(gray.size(), CV_8U, cv::Scalar(255)), jet;
  cv::applyColorMap(full, jet, cv::COLORMAP_JET);
  EXPECT_LE(cv::norm(hot, jet, cv::NORM_INF), 1);
}

TEST(GradCamCli, WritesABlendPerInputAndACsv) {
  test::TempDir dir;
  torch::manual_seed(1);
  const auto spec = classifier_spec("resnet18");
  auto model = models::build_model(spec);
  const nlohmann::json meta{{"input", {{"size", 64}, {"channels", 1}, {"normalize", "none"}}}};
  const std::string ckpt = dir / "cls.ckpt";
  models::save_checkpoint(ckpt, models::make_checkpoint(*model, spec, models::TrainState{{}, meta.dump()}));
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/a.png", square_image(80, 5, 5, 20));
  io::write_png(dir / "in/b.png", square_image(80, 50, 50, 20));
  const auto r = test::run_ptx("gradcam --checkpoint " + ckpt + " --input " + (dir / "in") + " --out " + (dir / "out") +
                               " --save-heat --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["written"], 2);
  for (const std::string id : {"a", "b"}) {
    const cv::Mat blend = cv::imread(dir / ("out/" + id + ".png"), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(blend.empty()) << id;
    EXPECT_EQ(blend.type(), CV_8UC3);
    EXPECT_EQ(blend.size(), cv::Size(80, 80));
    EXPECT_TRUE(fs::exists(dir / ("out/" + id + "_heat.png")));
  }
  io::CsvReader csv(dir / "out/gradcam.csv");
  std::vector<std::string> row;
  int rows = 0;
  while (csv.next(row)) ++rows;
  EXPECT_EQ(rows, 3);  // header + 2
  // A class the classifier does not have fails every input.
  EXPECT_NE(test::run_ptx("gradcam --checkpoint " + ckpt + " --input " + (dir / "in") + " --out " + (dir / "o2") +
                          " --class 4").exit_code, 0);
}

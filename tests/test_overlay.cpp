// Pictures of predictions (src/ptx/post/overlay) and `ptx overlay`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/post/overlay.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {

cv::Mat square(int size, int x0, int y0, int side) {
  cv::Mat m = cv::Mat::zeros(size, size, CV_8U);
  m(cv::Rect(x0, y0, side, side)).setTo(255);
  return m;
}

cv::Vec3b pixel(const cv::Mat& bgr, int x, int y) { return bgr.at<cv::Vec3b>(y, x); }

}  // namespace

TEST(Overlay, FillsThePredictionOutlinesBothAndLeavesTheRestAlone) {
  const cv::Mat gray(64, 64, CV_8U, cv::Scalar(100));
  const cv::Mat mask = square(64, 10, 10, 20);   // x, y in [10, 30)
  const cv::Mat truth = square(64, 20, 20, 20);  // x, y in [20, 40)
  post::OverlayStyle style;
  style.thickness = 1;
  const cv::Mat out = post::draw_overlay(gray, mask, truth, style);
  ASSERT_EQ(out.type(), CV_8UC3);
  ASSERT_EQ(out.size(), gray.size());
  EXPECT_EQ(pixel(out, 55, 55), cv::Vec3b(100, 100, 100));  // outside both: the radiograph
  EXPECT_EQ(pixel(out, 35, 35), cv::Vec3b(100, 100, 100));  // inside the truth only: contour, no fill
  const cv::Vec3b inside = pixel(out, 15, 15);              // inside the prediction: red tint
  EXPECT_GT(inside[2], 100);
  EXPECT_LT(inside[0], 100);
  EXPECT_LT(inside[1], 100);
  EXPECT_EQ(pixel(out, 10, 15), cv::Vec3b(40, 40, 255));   // the prediction's contour
  EXPECT_EQ(pixel(out, 39, 30), cv::Vec3b(60, 220, 60));   // the truth's contour
  EXPECT_EQ(pixel(out, 20, 25), cv::Vec3b(60, 220, 60));   // drawn over the prediction where they overlap

  // A mask of another size is resized to the image (nearest neighbour).
  cv::Mat half;
  cv::resize(mask, half, cv::Size(32, 32), 0, 0, cv::INTER_NEAREST);
  EXPECT_EQ(cv::norm(post::draw_overlay(gray, half, truth, style), out, cv::NORM_INF), 0);
  // No mask and no truth: the grey image in colour.
  cv::Mat grey3;
  cv::cvtColor(gray, grey3, cv::COLOR_GRAY2BGR);
  EXPECT_EQ(cv::norm(post::draw_overlay(gray, {}, {}), grey3, cv::NORM_INF), 0);
  EXPECT_FALSE(test::error_of([&] { post::draw_overlay(cv::Mat(8, 8, CV_32F), {}); }).empty());
}

TEST(Overlay, DiceFollowsTheChallenge) {
  const cv::Mat a = square(10, 0, 0, 4), b = square(10, 2, 0, 4), empty = cv::Mat::zeros(10, 10, CV_8U);
  EXPECT_DOUBLE_EQ(post::mask_dice(empty, empty), 1.0);
  EXPECT_DOUBLE_EQ(post::mask_dice(a, empty), 0.0);
  EXPECT_DOUBLE_EQ(post::mask_dice(a, a), 1.0);
  EXPECT_DOUBLE_EQ(post::mask_dice(a, b), 2.0 * 8 / 32);  // 2 columns x 4 rows overlap
}

TEST(Overlay, SideBySidePutsPanelsUnderTitles) {
  const cv::Mat p1(40, 50, CV_8UC3, cv::Scalar(0, 0, 0)), p2(30, 60, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Mat plain = post::side_by_side({p1, p2}, {});
  EXPECT_EQ(plain.cols, 4 + 50 + 4 + 60 + 4);
  EXPECT_EQ(plain.rows, 40 + 2 * 4);
  EXPECT_EQ(pixel(plain, 4 + 50 + 4 + 10, 4 + 10), cv::Vec3b(255, 255, 255));  // second panel in place
  const cv::Mat titled = post::side_by_side({p1, p2}, {"U-Net", "Attention U-Net"});
  const int bar = titled.rows - plain.rows;
  ASSERT_GT(bar, 0);
  // Text was drawn in the first panel's title bar (light pixels on the dark background).
  cv::Mat bar_grey;
  cv::cvtColor(titled(cv::Rect(4, 4, 50, bar)), bar_grey, cv::COLOR_BGR2GRAY);
  double hi = 0;
  cv::minMaxLoc(bar_grey, nullptr, &hi);
  EXPECT_GT(hi, 120);
}

TEST(Overlay, ComparisonScalesPanelsAndReportsDice) {
  const cv::Mat gray(128, 96, CV_8U, cv::Scalar(80));
  cv::Mat mask = cv::Mat::zeros(128, 96, CV_8U), truth = mask.clone();
  mask(cv::Rect(10, 10, 40, 40)).setTo(255);
  truth(cv::Rect(10, 10, 40, 40)).setTo(255);
  const cv::Mat fig = post::render_comparison(gray, {mask, cv::Mat()}, {"A", "B"}, truth, 48);
  EXPECT_EQ(fig.cols, 4 + 2 * (48 + 4));
  EXPECT_GT(fig.rows, 64 + 8);  // 48 wide panels keep the 4:3 aspect (64 high) plus the title bar
  EXPECT_FALSE(test::error_of([&] { post::render_comparison(gray, {mask}, {"A", "B"}); }).empty());
}

TEST(OverlayCli, DrawsModelsSideBySideWithTheTruthFromALabelCsv) {
  test::TempDir dir;
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  fs::create_directories(dir / "imgs");
  io::write_png(dir / "imgs/img1.png", cv::Mat(80, 80, CV_8U, cv::Scalar(120)));
  io::write_png(dir / "imgs/img2.png", cv::Mat(80, 80, CV_8U, cv::Scalar(60)));
  io::write_png(dir / "a/img1.png", square(80, 10, 10, 30));
  io::write_png(dir / "b/img1.png", square(80, 30, 30, 30));
  io::write_png(dir / "a/img2.png", cv::Mat::zeros(80, 80, CV_8U));  // b has no mask for img2
  {
    std::ofstream csv(dir / "labels.csv");
    csv << "ImageId,EncodedPixels\nimg1," << io::rle_encode(square(80, 12, 12, 30)) << "\nimg2,-1\n";
  }
  auto r = test::run_ptx("overlay --image " + (dir / "imgs/img1.png") + " --mask-dir " + (dir / "a") + " --mask-dir " +
                         (dir / "b") + " --title U-Net --title 'Attention U-Net' --truth " + (dir / "labels.csv") +
                         " --width 64 --out " + (dir / "one.png") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat one = cv::imread(dir / "one.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one.cols, 4 + 2 * (64 + 4));
  // Folders of images: one picture per image, a missing mask counted.
  r = test::run_ptx("overlay --image " + (dir / "imgs") + " --mask-dir " + (dir / "a") + " --mask-dir " + (dir / "b") +
                    " --out " + (dir / "pics") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["written"], 2);
  EXPECT_EQ(j["missing_masks"], 1);
  EXPECT_TRUE(fs::exists(dir / "pics/img1.png"));
  EXPECT_TRUE(fs::exists(dir / "pics/img2.png"));
  // Several images cannot go to one PNG; titles must match the folders.
  EXPECT_EQ(test::run_ptx("overlay --image " + (dir / "imgs") + " --mask-dir " + (dir / "a") + " --out " + (dir / "x.png")).exit_code, 2);
  EXPECT_EQ(test::run_ptx("overlay --image " + (dir / "imgs") + " --mask-dir " + (dir / "a") + " --title A --title B --out " +
                          (dir / "y")).exit_code, 2);
}

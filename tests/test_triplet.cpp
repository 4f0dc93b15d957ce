// The triplet post-processing (src/ptx/post/triplet) and the grid scorer (src/ptx/eval/triplet_grid)
// on hand-made probability maps.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <random>

#include "ptx/eval/triplet_grid.h"
#include "ptx/post/triplet.h"
#include "test_support.h"
#include "triplet_fixtures.h"

using namespace ptx;

namespace {

// 16 x 16 map: a 3 x 3 core at 0.9 inside a 5 x 5 halo at 0.45, and one lone pixel at 0.6.
cv::Mat blob_map() {
  cv::Mat p(16, 16, CV_32F, cv::Scalar(0.05));
  p(cv::Rect(2, 2, 5, 5)).setTo(0.45);
  p(cv::Rect(3, 3, 3, 3)).setTo(0.9);
  p.at<float>(12, 12) = 0.6f;
  return p;
}

}  // namespace

TEST(Triplet, GatesOnTheAreaAboveTopThenThresholdsAtBottom) {
  const cv::Mat p = blob_map();
  // 9 pixels exceed 0.8: with area 9 the mask is everything above 0.4 (halo 25 + lone pixel).
  EXPECT_EQ(cv::countNonZero(post::apply_triplet(p, {0.8, 9, 0.4})), 26);
  EXPECT_EQ(cv::countNonZero(post::apply_triplet(p, {0.8, 10, 0.4})), 0);
  EXPECT_EQ(cv::countNonZero(post::apply_triplet(p, {0.8, 9, 0.5})), 10);  // core + lone pixel
  // min_region drops the lone pixel, keeps the halo.
  EXPECT_EQ(cv::countNonZero(post::apply_triplet(p, {0.8, 9, 0.4, 2})), 25);
  // The 16-bit form gives the same mask.
  EXPECT_EQ(cv::countNonZero(post::apply_triplet(post::quantize_probability(p), {0.8, 9, 0.4})), 26);
}

TEST(Triplet, ParsesAndRejectsWithTheExpectedForm) {
  const auto t = post::Triplet::parse("0.75,2000,0.4");
  EXPECT_DOUBLE_EQ(t.top, 0.75);
  EXPECT_EQ(t.area, 2000);
  EXPECT_DOUBLE_EQ(t.bottom, 0.4);
  EXPECT_EQ(t.min_region, 0);
  EXPECT_EQ(post::Triplet::parse(t.str()).str(), "0.75,2000,0.4");
  EXPECT_EQ(post::Triplet::parse("0.6,100,0.3,50").min_region, 50);
  for (const char* bad : {"0.75,2000", "a,1,0.4", "1.5,10,0.4", "0.5,-1,0.4", "0.5,1.5,0.4", "0.5,10,0.4,x"})
    EXPECT_NE(test::error_of([&] { post::Triplet::parse(bad); }).find("expected top,area,bottom"), std::string::npos) << bad;
}

TEST(TripletGrid, ParsesRangesAndLists) {
  const auto v = eval::TripletGrid::parse_values("0.5:0.8:0.05", "top");
  ASSERT_EQ(v.size(), 7u);
  EXPECT_NEAR(v.back(), 0.8, 1e-12);
  EXPECT_EQ(eval::TripletGrid::parse_values("0:3000:250", "area").size(), 13u);
  EXPECT_EQ(eval::TripletGrid::parse_values("0.6,0.75", "top").size(), 2u);
  EXPECT_NE(test::error_of([] { eval::TripletGrid::parse_values("0.5:0.8", "top"); }).find("top '0.5:0.8'"), std::string::npos);
  EXPECT_NE(test::error_of([] { eval::TripletGrid::parse_values("0.5:0.8:0", "top"); }).find("step"), std::string::npos);
  eval::TripletGrid g;
  g.top = {1.2};
  EXPECT_NE(test::error_of([&] { g.validate(); }).find("top values must be in [0, 1]"), std::string::npos);
}

// Every grid point's score equals thresholding each map with apply_triplet and scoring it.
TEST(TripletGrid, EqualsThresholdingEveryMapAtEveryPoint) {
  eval::TripletGrid grid;
  grid.top = {0.5, 0.7, 0.9};
  grid.area = {0, 20, 60, 200};
  grid.bottom = {0.2, 0.35, 0.5};
  grid.min_region = {0, 15};
  eval::TripletGridScorer scorer(grid);
  std::mt19937 rng(7);
  std::vector<std::pair<cv::Mat, cv::Mat>> images;
  for (int i = 0; i < 12; ++i) {
    cv::Mat p(48, 40, CV_32F);
    cv::randu(p, 0.0, 0.4);
    cv::Mat truth = cv::Mat::zeros(p.size(), CV_8U);
    if (i % 3 != 0) {  // two thirds positive: a disc of truth with a noisy prediction around it
      const cv::Point c(5 + int(rng() % 30), 5 + int(rng() % 38));
      cv::circle(truth, c, 4 + int(rng() % 6), 255, cv::FILLED);
      cv::Mat blob(p.size(), CV_32F, cv::Scalar(0));
      cv::circle(blob, c + cv::Point(int(rng() % 5) - 2, 0), 5 + int(rng() % 5), 0.3 + 0.1 * (i % 6), cv::FILLED);
      p += blob;
    }
    if (i % 4 == 0) cv::circle(p, {30, 30}, 2, 0.8, cv::FILLED);  // a small false blob
    cv::min(p, 1.0, p);
    images.emplace_back(p, truth);
    scorer.add(p, truth);
  }
  const auto summaries = scorer.summaries();
  ASSERT_EQ(summaries.size(), grid.size());
  EXPECT_EQ(scorer.images(), images.size());
  double spread_low = 1, spread_high = 0;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    eval::DiceAccumulator direct;
    for (const auto& [p, truth] : images) {
      const cv::Mat mask = post::apply_triplet(p, grid.at(i));
      cv::Mat both;
      cv::bitwise_and(mask, truth, both);
      direct.add(cv::countNonZero(truth), cv::countNonZero(mask), cv::countNonZero(both));
    }
    EXPECT_DOUBLE_EQ(summaries[i].dice, direct.aggregate().dice) << grid.at(i).str();
    EXPECT_EQ(summaries[i].false_positives, direct.aggregate().false_positives) << grid.at(i).str();
    spread_low = std::min(spread_low, summaries[i].dice);
    spread_high = std::max(spread_high, summaries[i].dice);
  }
  EXPECT_GT(spread_high - spread_low, 0.2) << "the grid does not discriminate: the test would not catch much";
  scorer.reset();
  EXPECT_EQ(scorer.images(), 0u);
}

TEST(TripletGrid, FindsTheKnownBestTriplet) {
  eval::TripletGrid grid;
  grid.top = eval::TripletGrid::parse_values("0.5:0.9:0.1", "top");
  grid.area = {0, 20, 40, 80};
  grid.bottom = {0.3, 0.4, 0.5};
  eval::TripletGridScorer scorer(grid);
  for (const auto& [p, truth] : test::known_best_triplet_maps()) scorer.add(p, truth);
  const auto summaries = scorer.summaries();
  const auto best = grid.at(scorer.best_index());
  EXPECT_NEAR(best.top, 0.7, 1e-9);
  EXPECT_EQ(best.area, 40);
  EXPECT_DOUBLE_EQ(best.bottom, 0.4);
  EXPECT_DOUBLE_EQ(summaries[scorer.best_index()].dice, 1.0);
  int perfect = 0;
  for (const auto& s : summaries) perfect += s.dice == 1.0;
  EXPECT_EQ(perfect, 1);
}

#include <gtest/gtest.h>

#include "ptx/io/rle.h"

using namespace ptx::io;

namespace {
cv::Mat mask_from_rows(const std::vector<std::string>& rows) {
  cv::Mat m(int(rows.size()), int(rows[0].size()), CV_8UC1);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = rows[y][x] == '#' ? 255 : 0;
  return m;
}
}  // namespace

TEST(Rle, EncodesColumnMajorWithRelativeStarts) {
  // Column-major pixel order of this 3x4 mask: col0 = rows 0..2 -> pixels 0,1,2; col1 -> 3,4,5...
  const cv::Mat m = mask_from_rows({"..#.",
                                    "#.#.",
                                    "#..#"});
  // set pixels: 1,2 (col 0), 6 (col 2 row 0), 7 (col 2 row 1), 11 (col 3 row 2)
  EXPECT_EQ(rle_encode(m, RleMode::Relative), "1 2 3 2 3 1");
  EXPECT_EQ(rle_encode(m, RleMode::Absolute), "2 2 7 2 12 1");
}

TEST(Rle, EmptyMaskIsMinusOne) {
  EXPECT_EQ(rle_encode(cv::Mat::zeros(8, 8, CV_8UC1)), "-1");
  EXPECT_TRUE(rle_decode(" -1", 64).empty());
  EXPECT_EQ(cv::countNonZero(rle_decode_mask("-1", 8, 8)), 0);
}

TEST(Rle, RunTouchingTheLastPixelIsWritten) {
  cv::Mat m = cv::Mat::zeros(4, 4, CV_8UC1);
  m.at<uint8_t>(2, 3) = m.at<uint8_t>(3, 3) = 255;  // the last two pixels in column-major order
  EXPECT_EQ(rle_encode(m), "14 2");
  const cv::Mat full(5, 7, CV_8UC1, cv::Scalar(255));
  EXPECT_EQ(rle_encode(full), "0 35");
}

TEST(Rle, RoundTripsRandomMasksInBothModes) {
  cv::RNG rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const int w = 1 + rng.uniform(0, 70), h = 1 + rng.uniform(0, 70);
    cv::Mat m(h, w, CV_8UC1);
    rng.fill(m, cv::RNG::UNIFORM, 0, 2);
    if (trial % 3 == 0) cv::threshold(m, m, 0, 255, cv::THRESH_BINARY);  // 0/255 masks as well as 0/1
    for (RleMode mode : {RleMode::Relative, RleMode::Absolute}) {
      const cv::Mat back = rle_decode_mask(rle_encode(m, mode), w, h, mode);
      EXPECT_EQ(cv::countNonZero(back != (m > 0)), 0) << "trial " << trial;
    }
  }
}

TEST(Rle, DecodeRejectsMalformedText) {
  EXPECT_THROW(rle_decode("1 2 3", 100), RleError);      // odd count
  EXPECT_THROW(rle_decode("1 0", 100), RleError);        // zero length
  EXPECT_THROW(rle_decode("1 -4", 100), RleError);       // negative length
  EXPECT_THROW(rle_decode("-3 4", 100), RleError);       // negative gap
  EXPECT_THROW(rle_decode("90 11", 100), RleError);      // past the image
  EXPECT_THROW(rle_decode("5 5 x 2", 100), RleError);    // not a number
  EXPECT_THROW(rle_decode("5 5.5", 100), RleError);
  EXPECT_THROW(rle_decode("", 100), RleError);
  EXPECT_THROW(rle_decode("0 4", 100, RleMode::Absolute), RleError);  // absolute starts are 1-based
  EXPECT_THROW(rle_decode("10 4 11 2", 100, RleMode::Absolute), RleError);  // overlapping
  EXPECT_NO_THROW(rle_decode("90 10", 100));
  try {
    rle_decode("1 2 3 0", 100);
    FAIL();
  } catch (const RleError& e) {
    EXPECT_NE(std::string(e.what()).find("pair 2"), std::string::npos) << e.what();
  }
}

TEST(Rle, UnionAndIntersectionOfRuns) {
  const Runs a = union_runs({{10, 5}, {0, 3}, {12, 10}, {2, 2}});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0], (ptx::io::Run{0, 4}));
  EXPECT_EQ(a[1], (ptx::io::Run{10, 12}));
  EXPECT_EQ(run_pixels(a), 16);
  const Runs b = {{3, 9}, {20, 5}};
  EXPECT_EQ(intersection_pixels(a, b), 1 + 2 + 2);
  EXPECT_EQ(intersection_pixels(a, {}), 0);
}

TEST(Rle, ParsesModeNames) {
  EXPECT_EQ(parse_rle_mode("relative"), RleMode::Relative);
  EXPECT_EQ(parse_rle_mode("absolute"), RleMode::Absolute);
  EXPECT_THROW(parse_rle_mode("kaggle"), std::invalid_argument);
}

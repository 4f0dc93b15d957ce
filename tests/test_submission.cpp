// ptx submit (src/ptx/post/submission): rows, order, empty images and the sample submission.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/io/label_csv.h"
#include "ptx/post/probability_map.h"
#include "test_support.h"

using namespace ptx;

namespace {

// Three 32 x 32 maps: "b" has a confident 6 x 6 square, "a" and "c" stay below every threshold.
void write_maps(const test::TempDir& dir) {
  std::filesystem::create_directories(dir / "p");
  for (const char* id : {"c", "a", "b"}) {
    cv::Mat p(32, 32, CV_32F, cv::Scalar(0.1));
    if (std::string(id) == "b") p(cv::Rect(4, 5, 6, 6)).setTo(0.9);
    post::write_probability_map(dir / ("p/" + std::string(id) + ".png"), p);
  }
}

}  // namespace

TEST(Submission, OneRowPerMapWithRleOrMinusOne) {
  test::TempDir dir;
  write_maps(dir);
  const auto r = test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,10,0.5 --out " + (dir / "sub.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::LabelSet sub = io::read_label_csv(dir / "sub.csv");
  ASSERT_EQ(sub.images.size(), 3u);
  EXPECT_EQ(sub.images[0].image_id, "a");  // ImageId order without a sample submission
  EXPECT_FALSE(sub.images[0].positive());
  ASSERT_TRUE(sub.images[1].positive());
  EXPECT_EQ(cv::countNonZero(sub.mask(sub.images[1], 32, 32)), 36);
  // The area gate: 36 pixels above 0.5 is not enough for area 40.
  const auto gated = test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,40,0.5 --out " + (dir / "g.csv"));
  ASSERT_EQ(gated.exit_code, 0) << gated.err;
  EXPECT_FALSE(io::read_label_csv(dir / "g.csv").images[1].positive());
}

TEST(Submission, FollowsTheSampleSubmissionAndRefusesGapsAndUnsafeIds) {
  test::TempDir dir;
  write_maps(dir);
  core::write_file_atomic(dir / "sample.csv", "ImageId,EncodedPixels\nb,-1\nc,-1\n");
  const auto r = test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,0,0.5 --out " + (dir / "sub.csv") +
                               " --sample-submission " + (dir / "sample.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const io::LabelSet sub = io::read_label_csv(dir / "sub.csv");
  ASSERT_EQ(sub.images.size(), 2u);
  EXPECT_EQ(sub.images[0].image_id, "b");
  EXPECT_EQ(sub.images[1].image_id, "c");

  core::write_file_atomic(dir / "gap.csv", "ImageId,EncodedPixels\nb,-1\nd,-1\n");
  const auto gap = test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,0,0.5 --out " + (dir / "x.csv") +
                                 " --sample-submission " + (dir / "gap.csv"));
  EXPECT_EQ(gap.exit_code, 1);
  EXPECT_NE(gap.err.find("no prediction for 1 of 2 ImageIds"), std::string::npos) << gap.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.csv"));

  core::write_file_atomic(dir / "evil.csv", "ImageId,EncodedPixels\n../p/b,-1\n");
  const auto evil = test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,0,0.5 --out " + (dir / "y.csv") +
                                  " --sample-submission " + (dir / "evil.csv"));
  EXPECT_EQ(evil.exit_code, 1);
  EXPECT_NE(evil.err.find("cannot name a file"), std::string::npos) << evil.err;
  EXPECT_EQ(test::run_ptx("submit --predictions " + (dir / "p") + " --triplet 0.5,0 --out " + (dir / "z.csv")).exit_code, 2);
}

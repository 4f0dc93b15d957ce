#include <gtest/gtest.h>

#include <fstream>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/io/csv.h"
#include "ptx/io/label_csv.h"
#include "test_support.h"

using namespace ptx;
using ptx::test::TempDir;

TEST(Csv, SplitsTrimsAndUnquotes) {
  EXPECT_EQ(io::split_csv_line(" a , \"b,c\" ,d\r"), (std::vector<std::string>{"a", "b,c", "d"}));
  EXPECT_EQ(io::split_csv_line("x,,\"q\"\"q\""), (std::vector<std::string>{"x", "", "q\"q"}));
  EXPECT_EQ(io::csv_field("a,b"), "\"a,b\"");
}

TEST(LabelCsv, ReadsStageOneFormatWithBomCrlfAndMergesRows) {
  TempDir dir;
  const std::string path = dir / "labels.csv";
  core::write_file_atomic(path, "\xEF\xBB\xBFImageId, EncodedPixels, extra\r\n"
                                " img1, 0 2 2 1, x\r\n"
                                "img2, -1, y\r\n"
                                "img1, 10 2, z\r\n");
  const io::LabelSet set = io::read_label_csv(path);
  ASSERT_EQ(set.images.size(), 2u);
  const io::ImageLabels* img1 = set.find("img1");
  ASSERT_NE(img1, nullptr);
  EXPECT_EQ(img1->rows.size(), 2u);
  EXPECT_EQ(img1->rows[1].line, 4u);
  const cv::Mat m = set.mask(*img1, 4, 4);
  EXPECT_EQ(cv::countNonZero(m), 5);
  EXPECT_EQ(m.at<uint8_t>(1, 0), 255);   // pixel 1
  EXPECT_EQ(m.at<uint8_t>(2, 2), 255);   // pixel 10 -> column 2, row 2
  EXPECT_EQ(cv::countNonZero(set.mask(*set.find("img2"), 4, 4)), 0);
}

TEST(LabelCsv, HeaderlessFileAndErrorsNameTheLine) {
  TempDir dir;
  const std::string path = dir / "labels.csv";
  core::write_file_atomic(path, "a,1 2\nb,3 4 5\n");
  try {
    io::read_label_csv(path);
    FAIL() << "odd count accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels.csv:2:"), std::string::npos) << e.what();
  }
  core::write_file_atomic(path, "a,1 2\nb,300 4\n");
  const io::LabelSet set = io::read_label_csv(path);
  try {
    set.runs(*set.find("b"), 16, 16);  // 300+4 > 256 pixels: only known once the size is
    FAIL() << "run past the image accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels.csv:2:"), std::string::npos) << e.what();
  }
}

// The real label files decode, and re-encoding every merged mask decodes to the same mask.
TEST(LabelCsv, RealFilesRoundTrip) {
  PTX_REQUIRE_SHARED_DATA();
  for (const char* name : {"/siim-sample/train-rle-sample.csv", "/siim-labels/holdout.csv"}) {
    const io::LabelSet set = io::read_label_csv(test::shared_data() + name);
    std::size_t positives = 0, multi = 0;
    for (const io::ImageLabels& img : set.images) {
      const cv::Mat mask = set.mask(img, 1024, 1024);
      const std::string text = io::rle_encode(mask);
      const cv::Mat back = io::rle_decode_mask(text, 1024, 1024);
      ASSERT_EQ(cv::countNonZero(mask != back), 0) << img.image_id;
      positives += cv::countNonZero(mask) > 0;
      multi += img.rows.size() > 1;
    }
    if (std::string(name).find("holdout") != std::string::npos) {
      EXPECT_EQ(set.images.size(), 1067u);
      EXPECT_EQ(positives, 240u);
      EXPECT_GT(multi, 0u);
    } else {
      EXPECT_EQ(set.images.size(), 10u);
      EXPECT_EQ(positives, 5u);
    }
  }
}

// Positive or not is known before the image size: "1 1" (only ones and blanks) is a run.
TEST(LabelCsv, PositiveWithoutDecoding) {
  TempDir dir;
  const std::string path = dir / "labels.csv";
  core::write_file_atomic(path, "a, -1\nb, 1 1\nc, -1\nc, 11 1\n");
  const io::LabelSet set = io::read_label_csv(path);
  EXPECT_FALSE(set.find("a")->positive());
  EXPECT_TRUE(set.find("b")->positive());
  EXPECT_TRUE(set.find("c")->positive());
}

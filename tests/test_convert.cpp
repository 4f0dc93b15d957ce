#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/data/convert.h"
#include "ptx/data/index_csv.h"
#include "ptx/io/dicom.h"
#include "ptx/io/label_csv.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

// Converting the challenge's sample set at native size keeps every mask pixel: each positive's
// mask has exactly as many pixels as its RLE runs.
TEST(Convert, SiimSampleAtNativeSizeKeepsMaskPixelCounts) {
  PTX_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  data::ConvertOptions o;
  o.dicom_dirs = {test::shared_data() + "/siim-sample"};
  o.labels = test::shared_data() + "/siim-sample/train-rle-sample.csv";
  o.out = dir / "out";
  o.size = 1024;
  o.folds = 5;
  o.threads = 2;
  o.progress = false;
  const data::ConvertSummary s = data::convert_dataset(o);
  EXPECT_EQ(s.images, 10u);
  EXPECT_EQ(s.written, 10u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.positives, 5u);

  const io::LabelSet labels = io::read_label_csv(o.labels);
  const auto rows = data::read_index_csv(o.out + "/index.csv");
  ASSERT_EQ(rows.size(), 10u);
  std::vector<int> fold_count(5);
  for (const data::IndexRow& r : rows) {
    const cv::Mat image = cv::imread(o.out + "/" + r.image, cv::IMREAD_UNCHANGED);
    const cv::Mat mask = cv::imread(o.out + "/" + r.mask, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(image.size(), cv::Size(1024, 1024)) << r.image_id;
    ASSERT_EQ(mask.size(), cv::Size(1024, 1024)) << r.image_id;
    const int64_t runs = io::run_pixels(labels.runs(*labels.find(r.image_id), 1024, 1024));
    EXPECT_EQ(cv::countNonZero(mask), runs) << r.image_id;
    EXPECT_EQ(r.positive, runs > 0 ? 1 : 0);
    EXPECT_EQ(cv::countNonZero(image != io::read_dicom(test::shared_data() + "/siim-sample/" + r.image_id + ".dcm").gray8), 0);
    EXPECT_TRUE(r.age.has_value());
    EXPECT_FALSE(r.sex.empty());
    ++fold_count.at(r.fold);
  }
  for (int c : fold_count) EXPECT_EQ(c, 2);  // 5 positives and 5 negatives dealt over 5 folds

  // A second run skips what is done and reuses the folds.
  const std::string folds_before = core::read_file(o.out + "/folds.csv");
  const data::ConvertSummary again = data::convert_dataset(o);
  EXPECT_EQ(again.written, 0u);
  EXPECT_EQ(again.skipped_existing, 10u);
  EXPECT_EQ(core::read_file(o.out + "/folds.csv"), folds_before);
  EXPECT_EQ(data::read_index_csv(o.out + "/index.csv").size(), 10u);
}

TEST(Convert, ResizesReportsMismatchesAndSkipsUnreadableFiles) {
  PTX_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const fs::path src = dir.path() / "dicom";
  fs::create_directories(src / "study" / "series");
  int copied = 0;
  for (const auto& e : fs::directory_iterator(test::shared_data() + "/siim-sample"))
    if (e.path().extension() == ".dcm" && copied++ < 4) fs::copy(e.path(), src / "study" / "series" / e.path().filename());
  core::write_file_atomic(src / "broken.dcm", "not dicom");
  const io::LabelSet all = io::read_label_csv(test::shared_data() + "/siim-sample/train-rle-sample.csv");
  std::string csv = "ImageId, EncodedPixels\n";
  for (const auto& img : all.images)
    for (const auto& row : img.rows) csv += img.image_id + ", " + row.rle + "\n";
  csv += "broken, -1\n";
  core::write_file_atomic(dir.path() / "labels.csv", csv);

  data::ConvertOptions o;
  o.dicom_dirs = {src.string()};
  o.labels = dir / "labels.csv";
  o.out = dir / "out";
  o.size = 256;
  o.folds = 2;
  o.progress = false;
  const data::ConvertSummary s = data::convert_dataset(o);
  EXPECT_EQ(s.images, 5u);                 // 4 DICOMs + broken.dcm matched to labels
  EXPECT_EQ(s.failed, 1u);                 // broken.dcm
  EXPECT_EQ(s.labels_without_images, 6u);  // the 6 sample images not copied
  EXPECT_EQ(data::read_index_csv(o.out + "/index.csv").size(), 4u);
  EXPECT_NE(core::read_file(o.out + "/errors.csv").find("broken"), std::string::npos);
  EXPECT_NE(core::read_file(o.out + "/labels_without_images.csv").find("1.2.276"), std::string::npos);
  for (const auto& r : data::read_index_csv(o.out + "/index.csv")) {
    const cv::Mat mask = cv::imread(o.out + "/" + r.mask, cv::IMREAD_UNCHANGED);
    EXPECT_EQ(mask.size(), cv::Size(256, 256));
    EXPECT_EQ(cv::countNonZero((mask != 0) & (mask != 255)), 0) << "mask is not binary";
  }
}

TEST(Convert, TestSetModeFromPngImages) {
  test::TempDir dir;
  cv::Mat img(300, 200, CV_8UC1, cv::Scalar(90));
  cv::imwrite(dir / "a.png", img);
  cv::imwrite(dir / "b.png", img);
  data::ConvertOptions o;
  o.image_dirs = {dir.path().string()};
  o.out = dir / "out";
  o.size = 64;
  o.progress = false;
  const data::ConvertSummary s = data::convert_dataset(o);
  EXPECT_EQ(s.written, 2u);
  const auto rows = data::read_index_csv(o.out + "/index.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].mask, "");
  EXPECT_EQ(rows[0].positive, -1);
  EXPECT_EQ(rows[0].fold, -1);
  EXPECT_EQ(cv::imread(o.out + "/images/a.png", cv::IMREAD_UNCHANGED).size(), cv::Size(64, 64));
}

// A killed convert leaves *.tmp.<pid>.<n> files; the next run removes those of dead processes.
TEST(Convert, RemovesTemporaryFilesOfAKilledRun) {
  test::TempDir dir;
  cv::imwrite(dir / "a.png", cv::Mat(40, 40, CV_8UC1, cv::Scalar(90)));
  data::ConvertOptions o;
  o.image_dirs = {dir.path().string()};
  o.out = dir / "out";
  o.size = 32;
  o.progress = false;
  const auto [stale, live] = test::plant_temporaries(dir.path() / "out/images");
  const auto [stale_top, live_top] = test::plant_temporaries(dir.path() / "out");
  EXPECT_EQ(data::convert_dataset(o).written, 1u);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(stale_top));
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary file must not be touched";
  EXPECT_TRUE(fs::exists(live_top));
}

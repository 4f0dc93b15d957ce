#include <gtest/gtest.h>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/data/siim_index.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

TEST(SiimIndex, FindsNestedAndFlatFilesAndReportsMismatches) {
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "train/1.2/3.4/a.dcm", "x");
  core::write_file_atomic(dir.path() / "train/b.DCM", "x");
  core::write_file_atomic(dir.path() / "train/notes.txt", "x");
  core::write_file_atomic(dir.path() / "png/c.png", "x");
  const auto images = data::find_images({dir / "train"}, {dir / "png"});
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0].image_id, "a");
  EXPECT_TRUE(images[0].is_dicom);
  EXPECT_EQ(images[2].image_id, "c");
  EXPECT_FALSE(images[2].is_dicom);

  core::write_file_atomic(dir.path() / "labels.csv", "ImageId,EncodedPixels\na,-1\nc,1 2\nz,-1\n");
  const io::LabelSet labels = io::read_label_csv(dir / "labels.csv");
  const data::LabelMatch m = data::match_labels(images, labels);
  EXPECT_EQ(m.matched.size(), 2u);
  ASSERT_EQ(m.images_without_labels.size(), 1u);
  EXPECT_EQ(m.images_without_labels[0].image_id, "b");
  EXPECT_EQ(m.labels_without_images, std::vector<std::string>{"z"});
}

TEST(SiimIndex, DuplicateImageIdsAreAnError) {
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "x/a.dcm", "x");
  core::write_file_atomic(dir.path() / "y/a.dcm", "x");
  EXPECT_THROW(data::find_images({dir / "x", dir / "y"}, {}), core::Error);
}

TEST(SiimIndex, UnsafeImageIdIsAnErrorNamingTheLine) {
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "labels.csv", "ImageId,EncodedPixels\ngood,-1\n../../etc/passwd,-1\n");
  const io::LabelSet labels = io::read_label_csv(dir / "labels.csv");
  try {
    data::check_label_ids_are_safe(labels);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels.csv:3:"), std::string::npos) << e.what();
  }
}

TEST(SiimIndex, StratifiedFoldsAreBalancedSeededAndSaved) {
  std::vector<std::string> ids;
  std::vector<bool> positive;
  for (int i = 0; i < 103; ++i) {
    ids.push_back("img" + std::to_string(i));
    positive.push_back(i % 4 == 0);  // 26 positives
  }
  const auto folds = data::stratified_folds(ids, positive, 5, 42);
  std::vector<int> size(5), pos(5);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int f = folds.at(ids[i]);
    ASSERT_GE(f, 0);
    ASSERT_LT(f, 5);
    ++size[f];
    pos[f] += positive[i];
  }
  for (int f = 0; f < 5; ++f) {
    EXPECT_GE(size[f], 20);
    EXPECT_LE(size[f], 21);
    EXPECT_GE(pos[f], 5);
    EXPECT_LE(pos[f], 6);
  }
  EXPECT_EQ(data::stratified_folds(ids, positive, 5, 42), folds);
  EXPECT_NE(data::stratified_folds(ids, positive, 5, 43), folds);
  test::TempDir dir;
  data::write_folds_csv(dir / "folds.csv", folds);
  EXPECT_EQ(data::read_folds_csv(dir / "folds.csv"), folds);
  EXPECT_THROW(data::stratified_folds(ids, positive, 1, 42), core::UsageError);
}

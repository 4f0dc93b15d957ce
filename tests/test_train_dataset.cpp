#include <gtest/gtest.h>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/data/augment.h"
#include "ptx/data/convert.h"
#include "ptx/data/multilabel.h"
#include "ptx/data/synth.h"
#include "ptx/data/train_dataset.h"
#include "test_support.h"
#include "train_data_fixture.h"

using namespace ptx;
namespace fs = std::filesystem;

TEST(TrainDataset, FoldRowsSplitTrainAndValid) {
  std::vector<data::IndexRow> rows(10);
  for (int i = 0; i < 10; ++i) {
    rows[i].image_id = std::to_string(i);
    rows[i].mask = "m";
    rows[i].fold = i % 5;
  }
  rows[9].fold = -1;  // a test row
  rows[9].mask = "";
  const auto train = data::fold_rows(rows, 2, data::Split::train), valid = data::fold_rows(rows, 2, data::Split::valid);
  EXPECT_EQ(train.size(), 7u);
  EXPECT_EQ(valid.size(), 2u);
  for (const auto& r : train) EXPECT_NE(r.fold, 2);
  for (const auto& r : valid) EXPECT_EQ(r.fold, 2);
  EXPECT_EQ(data::fold_rows(rows, -1, data::Split::train).size(), 9u);
}

TEST(TrainDataset, ReadsResizesAndReturnsTensors) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 6, 96);
  data::DatasetOptions o;
  o.size = 48;
  const data::TrainDataset ds(dir.path().string(), rows, o);
  EXPECT_EQ(ds.labels(), (std::vector<int>{1, 0, 0, 1, 0, 0}));
  EXPECT_TRUE(ds.check_files().empty());
  const data::Example ex = ds.get(0);
  EXPECT_EQ(ex.image.sizes().vec(), (std::vector<int64_t>{1, 48, 48}));
  EXPECT_EQ(ex.mask.sizes().vec(), (std::vector<int64_t>{1, 48, 48}));
  EXPECT_EQ(ex.image.dtype(), torch::kFloat32);
  EXPECT_EQ(ex.label, 1.0f);
  EXPECT_FALSE(ex.target.defined());
  // The mask is exactly {0, 1} and covers the bright square (32x24 at 96 -> 16x12 at 48).
  EXPECT_EQ(((ex.mask == 0) | (ex.mask == 1)).all().item<bool>(), true);
  EXPECT_NEAR(ex.mask.sum().item<float>(), 16 * 12, 12);
  const float inside = (ex.image * ex.mask).sum().item<float>() / ex.mask.sum().item<float>();
  EXPECT_NEAR(inside, 230.0f / 255.0f, 0.02);
  EXPECT_EQ(ds.get(1).mask.sum().item<float>(), 0.0f);
  EXPECT_EQ(ds.get(1).label, 0.0f);
}

TEST(TrainDataset, NormalisationValues) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "images");
  io::write_png(dir / "images/a.png", cv::Mat(16, 16, CV_8UC1, cv::Scalar(128)));
  data::IndexRow r;
  r.image_id = "a";
  r.image = "images/a.png";
  r.positive = 0;
  r.fold = 0;
  const float x = 128.0f / 255.0f;
  data::DatasetOptions o;
  {
    const auto ex = data::TrainDataset(dir.path().string(), {r}, o).get(0);
    EXPECT_NEAR(ex.image.min().item<float>(), x, 1e-6);
    EXPECT_NEAR(ex.image.max().item<float>(), x, 1e-6);
    EXPECT_EQ(ex.mask.sum().item<float>(), 0.0f);  // no mask file: zeros
  }
  o.normalize = data::Normalization::imagenet;
  o.channels = 3;
  {
    const auto ex = data::TrainDataset(dir.path().string(), {r}, o).get(0);
    ASSERT_EQ(ex.image.size(0), 3);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(ex.image[c][5][7].item<float>(), (x - mean[c]) / sd[c], 1e-5) << c;
  }
  o.channels = 1;
  {
    const auto ex = data::TrainDataset(dir.path().string(), {r}, o).get(0);
    EXPECT_NEAR(ex.image[0][0][0].item<float>(), (x - 0.449f) / 0.226f, 1e-5);
  }
  EXPECT_EQ(data::parse_normalization("imagenet", "k"), data::Normalization::imagenet);
  const std::string e = test::error_of([] { data::parse_normalization("imgnet", "data.normalize"); });
  EXPECT_NE(e.find("data.normalize"), std::string::npos);
  EXPECT_NE(e.find("imagenet"), std::string::npos);
}

TEST(TrainDataset, CheckFilesListsEveryMissingFileAndGetNamesIt) {
  test::TempDir dir;
  auto rows = test::write_square_set(dir.path(), 4, 32);
  fs::remove(dir.path() / rows[1].image);
  fs::remove(dir.path() / rows[2].mask);
  fs::remove(dir.path() / rows[3].image);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  const auto missing = ds.check_files();
  ASSERT_EQ(missing.size(), 3u);
  EXPECT_NE(missing[0].find("img1.png"), std::string::npos);
  EXPECT_NE(missing[1].find("masks/img2.png"), std::string::npos);
  EXPECT_NE(test::error_of([&] { ds.get(1); }).find("img1.png"), std::string::npos);
  // Without masks (classification) the mask files are neither checked nor read.
  data::DatasetOptions no_masks;
  no_masks.masks = false;
  const data::TrainDataset cls(dir.path().string(), rows, no_masks);
  EXPECT_EQ(cls.check_files().size(), 2u);
  EXPECT_EQ(cls.get(2).mask.sum().item<float>(), 0.0f);
}

TEST(TrainDataset, AugmentationKeepsMaskOnSquare) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 1, 64);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  data::Pipeline p = data::Pipeline::from_yaml_string("[{type: shift_scale_rotate, p: 1, shift: 0.1, rotate: 30, border: constant}]", "augment", 3);
  const auto plain = ds.get(0), aug = ds.get(0, &p);
  EXPECT_FALSE(torch::equal(plain.image, aug.image));
  const auto bright = (aug.image > 0.6f).to(torch::kFloat32);
  const float inter = (bright * aug.mask).sum().item<float>(), uni = ((bright + aug.mask) > 0).sum().item<float>();
  EXPECT_GT(inter / uni, 0.85f);
}

TEST(TrainDataset, MultiLabelTargets) {
  test::TempDir dir;
  core::write_file_atomic(dir / "labels.csv",
                          "Image Index,Finding Labels,Follow-up #\n"
                          "img0.png,Effusion|Mass,0\n"
                          "img1.png,No Finding,0\n"
                          "img2.png,Mass|Pneumothorax,1\n");
  const data::MultiLabelTable sorted = data::read_multilabel_csv(dir / "labels.csv");
  EXPECT_EQ(sorted.classes, (std::vector<std::string>{"Effusion", "Mass", "Pneumothorax"}));
  EXPECT_EQ(*sorted.find("img0"), (std::vector<float>{1, 1, 0}));
  EXPECT_EQ(*sorted.find("img1.png"), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(sorted.find("img9"), nullptr);

  data::MultiLabelOptions o;
  o.classes = {"Pneumothorax", "Effusion"};
  const data::MultiLabelTable given = data::read_multilabel_csv(dir / "labels.csv", o);
  EXPECT_EQ(*given.find("img2"), (std::vector<float>{1, 0}));
  EXPECT_EQ(*given.find("img0"), (std::vector<float>{0, 1}));
  o.classes = {"Pneumothorax", "Efusion"};
  EXPECT_NE(test::error_of([&] { data::read_multilabel_csv(dir / "labels.csv", o); }).find("Efusion"), std::string::npos);
  o = {};
  o.labels_column = "Labels";
  EXPECT_NE(test::error_of([&] { data::read_multilabel_csv(dir / "labels.csv", o); }).find("Labels"), std::string::npos);

  const auto rows = test::write_square_set(dir.path() / "set", 3, 32);
  data::TrainDataset ds((dir.path() / "set").string(), rows, {});
  ds.set_targets(sorted);
  EXPECT_EQ(ds.classes(), sorted.classes);
  const auto ex = ds.get(2);
  ASSERT_TRUE(ex.target.defined());
  EXPECT_TRUE(torch::equal(ex.target, torch::tensor({0.0f, 1.0f, 1.0f})));
  auto more = test::write_square_set(dir.path() / "set4", 4, 32);
  data::TrainDataset ds4((dir.path() / "set4").string(), more, {});
  EXPECT_NE(test::error_of([&] { ds4.set_targets(sorted); }).find("img3"), std::string::npos);
}

// The whole chain on the project's own phantoms: synthesize, convert, train/valid split, load.
TEST(TrainDataset, OverAConvertedSyntheticSet) {
  test::TempDir dir;
  data::SynthOptions so;
  so.out = dir / "synth";
  so.count = 8;
  so.size = 128;
  so.positive_fraction = 0.5;
  so.threads = 2;
  so.progress = false;
  const data::SynthSummary synth = data::synthesize_dataset(so);
  data::ConvertOptions co;
  co.dicom_dirs = {synth.dicom_dir};
  co.labels = synth.labels_csv;
  co.out = dir / "converted";
  co.size = 64;
  co.folds = 2;
  co.threads = 2;
  co.progress = false;
  data::convert_dataset(co);
  const auto rows = data::read_index_csv(co.out + "/index.csv");
  data::DatasetOptions o;  // size 0: as converted
  const data::TrainDataset train(co.out, data::fold_rows(rows, 0, data::Split::train), o),
      valid(co.out, data::fold_rows(rows, 0, data::Split::valid), o);
  EXPECT_EQ(train.size() + valid.size(), 8u);
  EXPECT_TRUE(train.check_files().empty());
  int positives = 0;
  for (const data::TrainDataset* ds : {&train, &valid})
    for (std::size_t i = 0; i < ds->size(); ++i) {
      const auto ex = ds->get(i);
      EXPECT_EQ(ex.image.sizes().vec(), (std::vector<int64_t>{1, 64, 64}));
      EXPECT_EQ(ex.mask.sum().item<float>() > 0, ex.label == 1.0f) << ds->row(i).image_id;
      positives += ex.label == 1.0f;
    }
  EXPECT_EQ(positives, 4);
}

// ptx predict (src/ptx/predict) with fixed-weight checkpoints on synthetic DICOMs and PNGs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint_fixture.h"
#include "ptx/core/atomic_file.h"
#include "ptx/data/synth.h"
#include "ptx/io/csv.h"
#include "ptx/io/image.h"
#include "ptx/models/checkpoint.h"
#include "ptx/predict/ensemble.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;
using test::small_unet;
using test::write_checkpoint;

namespace {

std::vector<std::vector<std::string>> read_rows(const std::string& path) {
  io::CsvReader r(path);
  std::vector<std::vector<std::string>> rows;
  for (std::vector<std::string> f; r.next(f);) rows.push_back(f);
  return rows;
}

}  // namespace

TEST(Predict, WritesMasksAndRowsForDicomAndPngAndListsBadInputs) {
  test::TempDir dir;
  data::SynthOptions so;
  so.out = dir / "synth";
  so.count = 2;
  so.size = 96;
  so.progress = false;
  data::synthesize_dataset(so);
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/plain.png", cv::Mat(80, 72, CV_8U, cv::Scalar(90)));
  core::write_file_atomic(dir / "in/broken.dcm", "not a dicom");
  // A head bias of +20 makes every pixel certain: masks cover whole images.
  const std::string ckpt = write_checkpoint(dir, "seg.ckpt", small_unet(), 20.0f);
  const auto r = test::run_ptx("predict --checkpoint " + ckpt + " --input " + (dir / "synth") + " " + (dir / "in") +
                               " --out " + (dir / "out") + " --save-probabilities --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["images"], 3);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["triplet"], "0.5,0,0.5");  // from the checkpoint
  const auto rows = read_rows(dir / "out/predictions.csv");
  ASSERT_EQ(rows.size(), 4u);  // header + 3
  EXPECT_EQ(rows[0], (std::vector<std::string>{"ImageId", "probability", "area_pixels", "area_mm2", "EncodedPixels"}));
  for (size_t i = 1; i < rows.size(); ++i) {
    const cv::Mat mask = io::read_gray_image(dir / ("out/masks/" + rows[i][0] + ".png"));
    EXPECT_EQ(std::to_string(cv::countNonZero(mask)), rows[i][2]);
    EXPECT_EQ(cv::countNonZero(mask), mask.total()) << rows[i][0];  // full masks at the image's own size
    EXPECT_TRUE(fs::exists(dir / ("out/probabilities/" + rows[i][0] + ".png")));
    if (rows[i][0] == "plain") {
      EXPECT_EQ(mask.size(), cv::Size(72, 80));
      EXPECT_EQ(rows[i][3], "");  // no PixelSpacing in a PNG
    } else {
      EXPECT_FALSE(rows[i][3].empty()) << "DICOMs carry PixelSpacing";
    }
  }
  EXPECT_NE(core::read_file(dir / "out/errors.csv").find("broken.dcm"), std::string::npos);
}

TEST(Predict, RemovesTemporaryFilesOfAKilledRun) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/plain.png", cv::Mat(64, 64, CV_8U, cv::Scalar(90)));
  const std::string ckpt = write_checkpoint(dir, "seg.ckpt", small_unet(), 20.0f);
  const auto [stale, live] = test::plant_temporaries(dir.path() / "out/masks");
  const auto [stale_top, live_top] = test::plant_temporaries(dir.path() / "out");
  const auto r = test::run_ptx("predict --checkpoint " + ckpt + " --input " + (dir / "in") + " --out " + (dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(stale_top));
  // The test process is alive (and is not ptx): its files stay.
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(live_top));
}

TEST(Predict, TheClassifierGateEmptiesImagesWithoutSegmenting) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 2; ++i) io::write_png(dir / ("in/" + std::to_string(i) + ".png"), cv::Mat(64, 64, CV_8U, cv::Scalar(40 + i)));
  const std::string seg = write_checkpoint(dir, "seg.ckpt", small_unet(), 20.0f);
  models::ModelSpec cls;
  cls.arch = "classifier";
  cls.encoder = "resnet18";
  cls.in_channels = 1;
  const std::string sure_no = write_checkpoint(dir, "no.ckpt", cls, -20.0f);
  const auto r = test::run_ptx("predict --checkpoint " + seg + " --classifier " + sure_no + " --gate 0.5 --input " +
                               (dir / "in") + " --out " + (dir / "out") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["gated"], 2);
  EXPECT_EQ(j["positive"], 0);
  for (const auto& row : read_rows(dir / "out/predictions.csv")) {
    if (row[0] != "ImageId") {
      EXPECT_EQ(row[4], "-1");
    }
  }
  // A classifier passed as the segmenter, or a segmenter as the gate, is refused.
  EXPECT_EQ(test::run_ptx("predict --checkpoint " + seg + " --classifier " + seg + " --input " + (dir / "in") + " --out " +
                          (dir / "o2")).exit_code, 2);
}

TEST(Predict, FlipTtaAveragesTheMirroredView) {
  test::TempDir dir;
  const std::string ckpt = write_checkpoint(dir, "seg.ckpt", small_unet());
  const auto e = predict::Ensemble::load({ckpt}, {}, torch::kCPU);
  cv::Mat img(64, 64, CV_8U);
  cv::randu(img, 0, 255);
  cv::Mat mirrored;
  cv::flip(img, mirrored, 1);
  const cv::Mat a = e.segment(img, true), b = e.segment(mirrored, true);
  cv::Mat b_back;
  cv::flip(b, b_back, 1);
  // With flip TTA, predicting the mirror image gives the mirrored map (without it, in general not).
  EXPECT_LT(cv::norm(a, b_back, cv::NORM_INF), 1e-5);
  cv::Mat plain_b;
  cv::flip(e.segment(mirrored, false), plain_b, 1);
  EXPECT_GT(cv::norm(e.segment(img, false), plain_b, cv::NORM_INF), 1e-4);
}

TEST(Predict, Bf16PrecisionStaysCloseToFp32) {
  test::TempDir dir;
  const std::string ckpt = write_checkpoint(dir, "seg.ckpt", small_unet());
  const auto fp32 = predict::Ensemble::load({ckpt}, {}, torch::kCPU);
  const auto bf16 = predict::Ensemble::load({ckpt}, {}, torch::kCPU, 0, predict::Precision::bf16);
  const cv::Mat img = data::make_phantom(96, true, 4).image;
  const cv::Mat a = fp32.segment(img, true), b = bf16.segment(img, true);
  ASSERT_EQ(b.type(), CV_32F);
  const double diff = cv::norm(a, b, cv::NORM_INF);
  EXPECT_GT(diff, 0.0);   // it really ran in bfloat16
  EXPECT_LT(diff, 0.05);  // 8 bits of mantissa: about two decimal digits of a probability
  EXPECT_THROW(predict::parse_precision("fp16"), core::UsageError);
}

TEST(Predict, ABlendFileNamesTheEnsembleAndItsTriplet) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/a.png", cv::Mat(64, 64, CV_8U, cv::Scalar(50)));
  write_checkpoint(dir, "sure.ckpt", small_unet(), 20.0f);
  write_checkpoint(dir, "never.ckpt", small_unet(), -20.0f);
  // Weighted 3:1, the certain model wins everywhere (0.75 x 1 + 0.25 x 0 > 0.6).
  core::write_file_atomic(dir / "blend.yaml",
                          "models:\n  - {checkpoint: sure.ckpt, weight: 3}\n  - {checkpoint: never.ckpt, weight: 1}\n"
                          "triplet: 0.6,0,0.6\n");
  auto r = test::run_ptx("predict --blend " + (dir / "blend.yaml") + " --input " + (dir / "in") + " --out " + (dir / "o") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["positive"], 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["triplet"], "0.6,0,0.6");
  // 1:3 the other way: 0.25 < 0.6 everywhere, the mask is empty.
  core::write_file_atomic(dir / "blend2.yaml",
                          "models:\n  - {checkpoint: sure.ckpt, weight: 1}\n  - {checkpoint: never.ckpt, weight: 3}\n"
                          "triplet: 0.6,0,0.6\n");
  r = test::run_ptx("predict --blend " + (dir / "blend2.yaml") + " --input " + (dir / "in") + " --out " + (dir / "o2") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["positive"], 0);
  core::write_file_atomic(dir / "bad.yaml", "modles: []\n");
  r = test::run_ptx("predict --blend " + (dir / "bad.yaml") + " --input " + (dir / "in") + " --out " + (dir / "o3"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown key 'modles'"), std::string::npos) << r.err;
}

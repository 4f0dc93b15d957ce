// ptx thresholds search (src/ptx/eval/threshold_search) on saved 16-bit maps with a known best triplet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>

#include "ptx/core/atomic_file.h"
#include "ptx/io/rle.h"
#include "ptx/post/probability_map.h"
#include "test_support.h"
#include "triplet_fixtures.h"

using namespace ptx;

namespace {

// Maps as <ImageId>.png (16-bit) and the truth as a SIIM label CSV; returns the folder.
void write_case(const test::TempDir& dir) {
  std::filesystem::create_directories(dir / "maps");
  std::string csv = "ImageId,EncodedPixels\n";
  int i = 0;
  for (const auto& [p, truth] : test::known_best_triplet_maps()) {
    const std::string id = "1.2.3." + std::to_string(i++);
    post::write_probability_map(dir / ("maps/" + id + ".png"), p);
    csv += id + "," + io::rle_encode(truth) + "\n";
  }
  core::write_file_atomic(dir / "truth.csv", csv);
}

}  // namespace

TEST(ThresholdSearch, CliFindsTheKnownBestTripletAndWritesItsOutputs) {
  test::TempDir dir;
  write_case(dir);
  const auto r = test::run_ptx("thresholds search --probabilities " + (dir / "maps") + " --truth " + (dir / "truth.csv") +
                               " --grid top=0.5:0.9:0.1 area=0,20,40,80 bottom=0.3,0.4,0.5 --out " + (dir / "out") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["triplet"], "0.7,40,0.4");
  EXPECT_DOUBLE_EQ(j["dice"].get<double>(), 1.0);
  EXPECT_EQ(j["images"], 10);
  EXPECT_EQ(j["grid_points"], 5 * 4 * 3);
  std::ifstream csv(dir / "out/thresholds.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1 + 60);
  const cv::Mat heat = cv::imread(dir / "out/heatmap.png");
  EXPECT_FALSE(heat.empty());
  EXPECT_EQ(nlohmann::json::parse(core::read_file(dir / "out/best.json"))["area"], 40);
}

TEST(ThresholdSearch, MissingMapsAndBadGridsAreClearErrors) {
  test::TempDir dir;
  write_case(dir);
  std::filesystem::remove(dir / "maps/1.2.3.4.png");
  const auto r = test::run_ptx("thresholds search --probabilities " + (dir / "maps") + " --truth " + (dir / "truth.csv") +
                               " --out " + (dir / "out"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no probability map for 1 of 10 ImageIds"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1.2.3.4"), std::string::npos) << r.err;
  const auto bad = test::run_ptx("thresholds search --probabilities " + (dir / "maps") + " --truth " + (dir / "truth.csv") +
                                 " --grid depth=1:2:1 --out " + (dir / "out"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("expected top=, area=, bottom= or min_region="), std::string::npos) << bad.err;
}

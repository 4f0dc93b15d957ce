#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/data/synth.h"
#include "ptx/io/dicom.h"
#include "ptx/io/rle.h"
#include "test_support.h"

using namespace ptx;
using ptx::test::TempDir;
namespace fs = std::filesystem;

namespace {

cv::Mat union_of(const std::vector<cv::Mat>& masks, int size) {
  cv::Mat u = cv::Mat::zeros(size, size, CV_8UC1);
  for (const cv::Mat& m : masks) u |= m;
  return u;
}

// The lung (label 1 or 2) that holds a region; 0 when it is not inside exactly one lung.
int side_of(const cv::Mat& region, const cv::Mat& lungs) {
  const int right = cv::countNonZero(region & (lungs == 1)), left = cv::countNonZero(region & (lungs == 2));
  const int outside = cv::countNonZero(region & (lungs == 0));
  if (outside > 0 || (right > 0) == (left > 0)) return 0;
  return right > 0 ? 1 : 2;
}

cv::Mat erode(const cv::Mat& mask, int radius) {
  cv::Mat out;
  cv::erode(mask, out, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1)));
  return out;
}

// A region's interior and, for comparison, the rest of the same lung (away from every region).
struct Comparison {
  cv::Mat air, lung;
};
Comparison compare_regions(const data::SynthImage& p, const cv::Mat& region) {
  cv::Mat near_air;
  cv::dilate(union_of(p.masks, p.image.cols), near_air, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7)));
  const int side = side_of(region, p.lungs);
  return {erode(region, 2), erode((p.lungs == side) & ~near_air, 2)};
}

bool is_valid_uid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  std::stringstream ss(uid);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return false;
    if (part.size() > 1 && part[0] == '0') return false;
  }
  return uid.back() != '.';
}

std::map<std::string, std::string> read_tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).generic_string()] = core::read_file(e.path());
  return files;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

data::SynthOptions small_set(const std::string& out, int threads) {
  data::SynthOptions o;
  o.out = out;
  o.count = 6;
  o.size = 128;
  o.positive_fraction = 0.5;
  o.seed = 7;
  o.threads = threads;
  o.progress = false;
  return o;
}

}  // namespace

TEST(SynthPhantom, SameSeedSamePixelsDifferentSeedDifferentPixels) {
  const data::SynthImage a = data::make_phantom(128, true, 42), b = data::make_phantom(128, true, 42);
  const data::SynthImage c = data::make_phantom(128, true, 43);
  ASSERT_EQ(a.image.type(), CV_8UC1);
  ASSERT_EQ(a.image.size(), cv::Size(128, 128));
  EXPECT_EQ(cv::countNonZero(a.image != b.image), 0);
  ASSERT_EQ(a.masks.size(), b.masks.size());
  for (std::size_t i = 0; i < a.masks.size(); ++i) EXPECT_EQ(cv::countNonZero(a.masks[i] != b.masks[i]), 0);
  EXPECT_EQ(a.meta.sop_instance_uid, b.meta.sop_instance_uid);
  EXPECT_GT(cv::countNonZero(a.image != c.image), 128 * 128 / 2);
  EXPECT_NE(a.meta.sop_instance_uid, c.meta.sop_instance_uid);
}

TEST(SynthPhantom, PositivesHaveRegionsInsideOneLungNegativesNone) {
  int two_region_images = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    const data::SynthImage neg = data::make_phantom(96, false, seed);
    EXPECT_TRUE(neg.masks.empty()) << "seed " << seed;
    const data::SynthImage pos = data::make_phantom(96, true, seed);
    ASSERT_FALSE(pos.masks.empty()) << "seed " << seed;
    ASSERT_LE(pos.masks.size(), 2u);
    two_region_images += pos.masks.size() == 2;
    int total = 0;
    for (const cv::Mat& m : pos.masks) {
      ASSERT_EQ(m.type(), CV_8UC1);
      ASSERT_EQ(m.size(), pos.image.size());
      EXPECT_EQ(cv::countNonZero((m != 0) & (m != 255)), 0) << "masks are 0/255";
      EXPECT_GT(cv::countNonZero(m), 5) << "seed " << seed;
      EXPECT_NE(side_of(m, pos.lungs), 0) << "seed " << seed << ": a region lies inside exactly one lung";
      total += cv::countNonZero(m);
    }
    EXPECT_EQ(cv::countNonZero(union_of(pos.masks, 96)), total) << "regions of one image do not overlap";
    EXPECT_GT(cv::countNonZero(pos.lungs == 1), 96 * 96 / 20);
    EXPECT_GT(cv::countNonZero(pos.lungs == 2), 96 * 96 / 20);
  }
  EXPECT_GE(two_region_images, 2);  // about one in five
  EXPECT_LE(two_region_images, 15);
}

TEST(SynthPhantom, AirIsDarkerThanTheSameLungElsewhere) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const data::SynthImage p = data::make_phantom(256, true, seed);
    for (const cv::Mat& region : p.masks) {
      const Comparison c = compare_regions(p, region);
      if (cv::countNonZero(c.air) < 20) continue;
      const double air = cv::mean(p.image, c.air)[0], lung = cv::mean(p.image, c.lung)[0];
      EXPECT_LT(air, lung - 8) << "seed " << seed;
    }
  }
}

TEST(SynthPhantom, AirHasNoLungMarkings) {
  // Fine texture = the image minus its 3x3 median (which keeps edges, so the borders of a thin
  // region do not count as texture). The air has only noise and ribs; the lung also has vessels
  // and parenchyma.
  double ratio_sum = 0;
  int compared = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const data::SynthImage p = data::make_phantom(256, true, seed);
    cv::Mat median, image, texture;
    cv::medianBlur(p.image, median, 3);
    p.image.convertTo(image, CV_32F);
    median.convertTo(median, CV_32F);
    texture = image - median;
    for (const cv::Mat& region : p.masks) {
      const Comparison c = compare_regions(p, region);
      if (cv::countNonZero(c.air) < 100) continue;  // too thin to measure texture in
      cv::Scalar mean, air_sd, lung_sd;
      cv::meanStdDev(texture, mean, air_sd, c.air);
      cv::meanStdDev(texture, mean, lung_sd, c.lung);
      const double ratio = air_sd[0] / lung_sd[0];
      EXPECT_LT(ratio, 0.9) << "seed " << seed;
      ratio_sum += ratio;
      ++compared;
    }
  }
  ASSERT_GE(compared, 5);
  EXPECT_LT(ratio_sum / compared, 0.75);
}

TEST(SynthPhantom, MetadataLooksLikeTheChallenge) {
  std::set<std::string> sexes, views, uids;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const io::DicomMeta m = data::make_phantom(64, false, seed).meta;
    EXPECT_EQ(m.modality, "CR");
    EXPECT_EQ(m.body_part_examined, "CHEST");
    EXPECT_EQ(m.photometric_interpretation, "MONOCHROME2");
    EXPECT_EQ(m.rows, 64);
    EXPECT_EQ(m.columns, 64);
    sexes.insert(m.patient_sex);
    views.insert(m.view_position);
    ASSERT_TRUE(m.patient_age_years.has_value());
    EXPECT_GE(*m.patient_age_years, 18);
    EXPECT_LT(*m.patient_age_years, 100);
    ASSERT_TRUE(m.pixel_spacing_row_mm.has_value());
    // 0.139..0.194 mm at 1024 px, scaled to the 64 px field of view.
    EXPECT_GE(*m.pixel_spacing_row_mm, 0.139 * 16 - 1e-9);
    EXPECT_LE(*m.pixel_spacing_row_mm, 0.1944 * 16);
    for (const std::string& uid : {m.study_instance_uid, m.series_instance_uid, m.sop_instance_uid}) {
      EXPECT_TRUE(is_valid_uid(uid)) << uid;
      EXPECT_EQ(uid.rfind("2.25.", 0), 0u) << uid;
      uids.insert(uid);
    }
  }
  EXPECT_EQ(sexes, (std::set<std::string>{"F", "M"}));
  EXPECT_EQ(views, (std::set<std::string>{"AP", "PA"}));
  EXPECT_EQ(uids.size(), 60u);
}

TEST(SynthPhantom, RejectsSizesOutOfRange) {
  EXPECT_THROW(data::make_phantom(10, true, 1), core::UsageError);
  EXPECT_THROW(data::make_phantom(5000, true, 1), core::UsageError);
}

TEST(SynthDataset, WritesTheChallengeLayoutAndStageOneCsv) {
  TempDir dir;
  const data::SynthSummary s = data::synthesize_dataset(small_set(dir / "set", 2));
  EXPECT_EQ(s.images, 6u);
  EXPECT_EQ(s.positives, 3u);
  EXPECT_EQ(s.negatives, 3u);
  EXPECT_EQ(s.dicom_dir, (dir.path() / "set" / "dicom-images-train").string());
  EXPECT_EQ(s.labels_csv, (dir.path() / "set" / "train-rle.csv").string());
  ASSERT_EQ(s.records.size(), 6u);

  const std::vector<std::string> lines = lines_of(core::read_file(s.labels_csv));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "ImageId, EncodedPixels");
  std::map<std::string, std::vector<std::string>> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::size_t comma = lines[i].find(", ");
    ASSERT_NE(comma, std::string::npos) << lines[i];
    rows[lines[i].substr(0, comma)].push_back(lines[i].substr(comma + 2));
  }
  EXPECT_EQ(rows.size(), 6u);

  std::size_t regions = 0;
  for (const data::SynthRecord& r : s.records) {
    // dicom-images-train/<Study>/<Series>/<SOP>.dcm
    const fs::path rel(r.dicom_path);
    const std::vector<fs::path> parts(rel.begin(), rel.end());
    ASSERT_EQ(parts.size(), 4u) << r.dicom_path;
    EXPECT_EQ(parts[0], "dicom-images-train");
    EXPECT_EQ(parts[3], r.image_id + ".dcm");
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "set" / rel)) << r.dicom_path;

    const data::SynthImage p = data::make_phantom(128, r.positive, r.image_seed);
    EXPECT_EQ(p.meta.sop_instance_uid, r.image_id);
    EXPECT_EQ(parts[1], p.meta.study_instance_uid);
    EXPECT_EQ(parts[2], p.meta.series_instance_uid);
    const std::vector<std::string>& texts = rows[r.image_id];
    if (!r.positive) {
      EXPECT_EQ(texts, std::vector<std::string>{"-1"});
      continue;
    }
    ASSERT_EQ(texts.size(), p.masks.size()) << "one row per region";
    EXPECT_EQ(int(texts.size()), r.regions);
    regions += texts.size();
    cv::Mat decoded = cv::Mat::zeros(128, 128, CV_8UC1);
    for (const std::string& t : texts) io::paint_runs(io::rle_decode(t, 128 * 128), decoded);
    EXPECT_EQ(cv::countNonZero(decoded != union_of(p.masks, 128)), 0) << r.image_id;
  }
  EXPECT_EQ(s.regions, regions);
}

TEST(SynthDataset, SameSeedSameBytesWhateverTheThreadCount) {
  TempDir dir;
  data::SynthOptions a = small_set(dir / "a", 1), b = small_set(dir / "b", 3);
  a.count = b.count = 5;
  a.size = b.size = 96;
  data::synthesize_dataset(a);
  data::synthesize_dataset(b);
  const auto files_a = read_tree(dir.path() / "a"), files_b = read_tree(dir.path() / "b");
  EXPECT_EQ(files_a.size(), 6u);  // five DICOMs and the CSV, no temporary files left behind
  EXPECT_TRUE(files_a == files_b);

  b.seed = 8;
  data::synthesize_dataset(b);
  EXPECT_NE(core::read_file(dir / "a/train-rle.csv"), core::read_file(dir / "b/train-rle.csv"));
}

TEST(SynthDataset, DicomReadsBackWithChallengeHeaderAndPixels) {
  TempDir dir;
  const data::SynthSummary s = data::synthesize_dataset(small_set(dir / "set", 2));
  for (const data::SynthRecord& r : s.records) {
    const io::DicomImage d = io::read_dicom((dir.path() / "set" / r.dicom_path).string(), false);
    const data::SynthImage p = data::make_phantom(128, r.positive, r.image_seed);
    EXPECT_EQ(d.meta.sop_instance_uid, r.image_id);
    EXPECT_EQ(d.meta.study_instance_uid, p.meta.study_instance_uid);
    EXPECT_EQ(d.meta.modality, "CR");
    EXPECT_EQ(d.meta.transfer_syntax_uid, "1.2.840.10008.1.2.4.50");
    EXPECT_EQ(d.meta.body_part_examined, "CHEST");
    EXPECT_EQ(d.meta.patient_sex, p.meta.patient_sex);
    EXPECT_EQ(d.meta.patient_age_years, p.meta.patient_age_years);
    EXPECT_EQ(d.meta.view_position, p.meta.view_position);
    ASSERT_TRUE(d.meta.pixel_spacing_row_mm.has_value());
    EXPECT_NEAR(*d.meta.pixel_spacing_row_mm, *p.meta.pixel_spacing_row_mm, 1e-5);
    EXPECT_EQ(d.meta.rows, 128);
    ASSERT_EQ(d.gray8.size(), p.image.size());
    cv::Mat diff;
    cv::absdiff(d.gray8, p.image, diff);
    EXPECT_LT(cv::mean(diff)[0], 3.0) << "JPEG is lossy, but not that lossy";
  }
}

TEST(SynthDataset, PositiveCountIsExactAndTheSplitNamesTheFiles) {
  TempDir dir;
  data::SynthOptions o = small_set(dir / "set", 2);
  o.count = 7;
  o.size = 64;
  o.positive_fraction = 0.3;  // round(2.1) = 2
  o.split_name = "test";
  const data::SynthSummary s = data::synthesize_dataset(o);
  EXPECT_EQ(s.positives, 2u);
  EXPECT_EQ(s.negatives, 5u);
  EXPECT_TRUE(fs::is_directory(dir.path() / "set" / "dicom-images-test"));
  EXPECT_EQ(lines_of(core::read_file(dir / "set/test-rle.csv"))[0], "ImageId, EncodedPixels");
  for (double fraction : {0.0, 1.0}) {
    o.positive_fraction = fraction;
    EXPECT_EQ(data::synthesize_dataset(o).positives, fraction == 0.0 ? 0u : 7u);
  }
}

TEST(SynthDataset, RejectsBadOptionsNamingThem) {
  TempDir dir;
  const auto message = [&](auto change) {
    data::SynthOptions o = small_set(dir / "set", 1);
    change(o);
    try {
      data::synthesize_dataset(o);
    } catch (const core::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no UsageError");
  };
  EXPECT_NE(message([](data::SynthOptions& o) { o.count = 0; }).find("--count"), std::string::npos);
  EXPECT_NE(message([](data::SynthOptions& o) { o.size = 10; }).find("--size"), std::string::npos);
  EXPECT_NE(message([](data::SynthOptions& o) { o.size = 8192; }).find("--size"), std::string::npos);
  EXPECT_NE(message([](data::SynthOptions& o) { o.positive_fraction = 1.5; }).find("--positive-fraction"), std::string::npos);
  EXPECT_NE(message([](data::SynthOptions& o) { o.positive_fraction = -0.1; }).find("--positive-fraction"), std::string::npos);
  EXPECT_NE(message([](data::SynthOptions& o) { o.split_name = "../x"; }).find("--split"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "set"));
}

TEST(SynthCli, WritesTheDataSetAndAJsonSummary) {
  TempDir dir;
  const auto r = test::run_ptx("synth --out " + (dir / "cli") + " --count 3 --size 64 --seed 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("images"), 3);
  EXPECT_EQ(j.at("positives").get<int>() + j.at("negatives").get<int>(), 3);
  EXPECT_EQ(j.at("labels"), dir / "cli/train-rle.csv");
  EXPECT_TRUE(fs::is_regular_file(dir / "cli/train-rle.csv"));
  EXPECT_TRUE(fs::is_directory(dir / "cli/dicom-images-train"));
}

TEST(SynthCli, BadSizeIsAUsageError) {
  TempDir dir;
  const auto r = test::run_ptx("synth --out " + (dir / "cli") + " --size 10");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--size"), std::string::npos) << r.err;
  const auto help = test::run_ptx("synth --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--positive-fraction"), std::string::npos);
}

// Model bundles (src/ptx/export/bundle.h) and `ptx bundle`, and --bundle in ptx predict.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "checkpoint_fixture.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/sha256.h"
#include "ptx/data/synth.h"
#include "ptx/export/bundle.h"
#include "ptx/export/zip_records.h"
#include "ptx/io/image.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;
using nlohmann::json;
using test::small_unet;
using test::write_checkpoint;

namespace {

models::ModelSpec small_classifier() {
  models::ModelSpec s;
  s.arch = "classifier";
  s.encoder = "resnet18";
  s.in_channels = 1;
  return s;
}

// Two segmenters (one with its weights as built, one biased) and a classifier, in dir.
struct Models {
  std::string plain, biased, classifier;
  explicit Models(const test::TempDir& dir)
      : plain(write_checkpoint(dir, "plain.ckpt", small_unet())),
        biased(write_checkpoint(dir, "biased.ckpt", small_unet(), 0.5f)),
        classifier(write_checkpoint(dir, "cls.ckpt", small_classifier(), 2.0f)) {}
};

}  // namespace

TEST(Bundle, CreateThenInspectShowsTheManifestHashesAndCard) {
  test::TempDir dir;
  const Models m(dir);
  core::write_file_atomic(dir / "card.yaml", "intended_use: research only\ntraining_data: SIIM fold 0-3\n");
  auto r = test::run_ptx("bundle create --checkpoint " + m.plain + " --checkpoint " + m.biased +
                         " --weight 2 --weight 1 --classifier " + m.classifier + " --gate 0.3 --triplet 0.6,10,0.4 "
                         "--tta none --card " + (dir / "card.yaml") + " --out " + (dir / "model.ptxb"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_ptx("bundle inspect " + (dir / "model.ptxb") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const json& manifest = j["manifest"];
  EXPECT_EQ(manifest["format"], "ptx-bundle");
  EXPECT_EQ(manifest["version"], 1);
  EXPECT_FALSE(manifest["ptx_version"].get<std::string>().empty());
  EXPECT_FALSE(manifest["created"].get<std::string>().empty());
  EXPECT_EQ(manifest["gate"], 0.3);
  EXPECT_EQ(manifest["triplet"], "0.6,10,0.4");
  EXPECT_EQ(manifest["tta"], "none");
  ASSERT_EQ(manifest["members"].size(), 3u);
  const std::vector<std::string> sources{m.plain, m.biased, m.classifier};
  const std::vector<std::string> roles{"segmenter", "segmenter", "classifier"};
  const std::vector<double> weights{2, 1, 1};
  for (std::size_t i = 0; i < 3; ++i) {
    const json& e = manifest["members"][i];
    EXPECT_EQ(e["role"], roles[i]);
    EXPECT_EQ(e["weight"], weights[i]);
    EXPECT_EQ(e["source"], fs::path(sources[i]).filename().string());
    EXPECT_EQ(e["sha256"], core::sha256_file_hex(sources[i]));  // the checkpoint, byte for byte
    EXPECT_EQ(e["input"], (json{{"size", 64}, {"channels", 1}, {"normalize", "none"}}));
    EXPECT_EQ(e["spec"]["arch"], i < 2 ? "unet" : "classifier");
  }
  EXPECT_EQ(j["card"], "intended_use: research only\ntraining_data: SIIM fold 0-3\n");
  // The human form names the members and prints the card.
  r = test::run_ptx("bundle inspect " + (dir / "model.ptxb"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("members/segmenter-1.ckpt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("training_data: SIIM fold 0-3"), std::string::npos) << r.out;
}

TEST(Bundle, DefaultCardSaysResearchUseAndTheTripletComesFromTheCheckpoint) {
  test::TempDir dir;
  const Models m(dir);
  ASSERT_EQ(test::run_ptx("bundle create --checkpoint " + m.plain + " --out " + (dir / "b.ptxb")).exit_code, 0);
  const auto b = exports::read_bundle(dir / "b.ptxb");
  EXPECT_EQ(b.card, exports::default_card());
  EXPECT_NE(b.card.find("research use only, not a medical device"), std::string::npos);
  EXPECT_NE(b.card.find("training_data: \"\""), std::string::npos);
  EXPECT_EQ(b.triplet, "0.5,0,0.5");  // the fixture's validated triplet
  EXPECT_EQ(b.tta, "hflip");
  EXPECT_FALSE(b.gate);  // no classifier, no gate
  // A classifier given as the segmenter is a usage error.
  EXPECT_EQ(test::run_ptx("bundle create --checkpoint " + m.classifier + " --out " + (dir / "c.ptxb")).exit_code, 2);
  EXPECT_EQ(test::run_ptx("bundle create --checkpoint " + m.plain + " --weight 1 --weight 2 --out " + (dir / "c.ptxb")).exit_code, 2);
  EXPECT_FALSE(fs::exists(dir / "c.ptxb"));
}

TEST(Bundle, PredictWithABundleWritesTheSamePredictionsAsWithItsCheckpoints) {
  test::TempDir dir;
  const Models m(dir);
  data::SynthOptions so;
  so.out = dir / "synth";
  so.count = 3;
  so.size = 96;
  so.progress = false;
  data::synthesize_dataset(so);
  const std::string models_args = "--checkpoint " + m.plain + " --checkpoint " + m.biased + " --weight 3 --weight 1 " +
                                  "--classifier " + m.classifier + " --gate 0.2 --triplet 0.55,5,0.45 --tta none";
  ASSERT_EQ(test::run_ptx("bundle create " + models_args + " --out " + (dir / "b.ptxb")).exit_code, 0);
  auto r = test::run_ptx("predict " + models_args + " --input " + (dir / "synth") + " --out " + (dir / "direct") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_ptx("predict --bundle " + (dir / "b.ptxb") + " --input " + (dir / "synth") + " --out " + (dir / "bundled") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["triplet"], "0.55,5,0.45");
  const std::string direct = core::read_file(dir / "direct/predictions.csv");
  EXPECT_GT(std::count(direct.begin(), direct.end(), '\n'), 3);
  EXPECT_EQ(core::read_file(dir / "bundled/predictions.csv"), direct);
  // Options given on the command line win over the bundle's.
  r = test::run_ptx("predict --bundle " + (dir / "b.ptxb") + " --triplet 0.9,0,0.9 --input " + (dir / "synth") +
                    " --out " + (dir / "over") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["triplet"], "0.9,0,0.9");
}

TEST(Bundle, ATamperedMemberIsRefusedByName) {
  test::TempDir dir;
  const Models m(dir);
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/a.png", cv::Mat(64, 64, CV_8U, cv::Scalar(50)));
  ASSERT_EQ(test::run_ptx("bundle create --checkpoint " + m.plain + " --checkpoint " + m.biased + " --out " +
                          (dir / "b.ptxb")).exit_code, 0);
  // A valid zip with one byte of the second checkpoint changed.
  auto records = exports::read_zip_records(dir / "b.ptxb");
  std::string& member = records.at("members/segmenter-1.ckpt");
  member[member.size() / 2] ^= 1;
  exports::write_zip_records(dir / "tampered.ptxb", records);
  for (const std::string& command :
       {"bundle inspect " + (dir / "tampered.ptxb"),
        "predict --bundle " + (dir / "tampered.ptxb") + " --input " + (dir / "in") + " --out " + (dir / "o")}) {
    const auto r = test::run_ptx(command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.err.find("member members/segmenter-1.ckpt does not match its SHA-256"), std::string::npos) << r.err;
  }
  EXPECT_NE(test::error_of([&] { exports::read_bundle(dir / "tampered.ptxb"); }).find("segmenter-1.ckpt"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "o/predictions.csv"));
}

TEST(Bundle, UsageAndMissingFileErrors) {
  test::TempDir dir;
  const Models m(dir);
  fs::create_directories(dir / "in");
  ASSERT_EQ(test::run_ptx("bundle create --checkpoint " + m.plain + " --out " + (dir / "b.ptxb")).exit_code, 0);
  auto r = test::run_ptx("predict --bundle " + (dir / "b.ptxb") + " --checkpoint " + m.plain + " --input " +
                         (dir / "in") + " --out " + (dir / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_ptx("predict --bundle " + (dir / "absent.ptxb") + " --input " + (dir / "in") + " --out " + (dir / "o"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(dir / "absent.ptxb"), std::string::npos) << r.err;
  r = test::run_ptx("bundle inspect " + m.plain);  // a checkpoint is a zip, but no bundle
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("manifest.json is missing"), std::string::npos) << r.err;
}

// The ptx executable: exit codes, --help, --json, and error messages naming their files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/io/dicom_write.h"
#include "test_support.h"

using namespace ptx;
using test::run_ptx;

TEST(Cli, VersionAndHelpOnEveryCommand) {
  const auto v = run_ptx("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("ptx "), std::string::npos);
  for (const char* cmd : {"info", "convert", "evaluate", "synth", "rle", "rle encode", "rle decode", "models", "models list", "thresholds", "thresholds search", "submit", "predict", "weights", "train"}) {
    const auto r = run_ptx(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
}

TEST(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run_ptx("").exit_code, 2);
  EXPECT_EQ(run_ptx("frobnicate").exit_code, 2);
  EXPECT_EQ(run_ptx("evaluate --truth /nonexistent.csv --pred /nonexistent.csv").exit_code, 2);
  EXPECT_EQ(run_ptx("convert --out /tmp/x --size 5 --images /tmp").exit_code, 2);
}

TEST(Cli, InfoFlagsNonChestImagesAndFailsCleanlyOnBadFiles) {
  PTX_REQUIRE_SHARED_DATA();
  const std::string d = test::shared_data() + "/dicom-variants/";
  const auto ct = run_ptx("info " + d + "ct-scout-not-a-chest-xray.dcm");
  EXPECT_EQ(ct.exit_code, 0);
  EXPECT_NE(ct.err.find("warning"), std::string::npos);
  const auto j = run_ptx("--json info " + d + "nih-cxr-uncompressed.dcm " + d + "ct-scout-not-a-chest-xray.dcm");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(j.err, "") << "a good file must not print anything on stderr (DCMTK's own log included)";
  const auto parsed = nlohmann::json::parse(j.out);
  ASSERT_EQ(parsed["files"].size(), 2u);
  EXPECT_TRUE(parsed["files"][0]["warnings"].empty());
  EXPECT_FALSE(parsed["files"][1]["warnings"].empty());
  EXPECT_EQ(parsed["files"][0]["modality"], "DX");
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "x.dcm", "garbage");
  const auto bad = run_ptx("info " + (dir / "x.dcm"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(dir / "x.dcm"), std::string::npos);
}

namespace {

// Runs ptx info on a file whose pixel data is cut and checks it shows the metadata, warns that the
// pixels are unreadable naming the file, says so in --json, and exits 1.
void expect_info_flags_cut_pixels(const std::string& path, const std::string& sop_instance_uid) {
  const auto text = run_ptx("info " + path);
  EXPECT_EQ(text.exit_code, 1) << path;
  EXPECT_NE(text.out.find(sop_instance_uid), std::string::npos) << "the metadata is still printed";
  EXPECT_NE(text.err.find("warning: " + path + ": pixels unreadable"), std::string::npos) << text.err;
  EXPECT_EQ(text.err.find("E: "), std::string::npos) << "no DCMTK log line: " << text.err;
  const auto json = run_ptx("--json info " + path);
  EXPECT_EQ(json.exit_code, 1);
  const auto file = nlohmann::json::parse(json.out)["files"][0];
  EXPECT_EQ(file["sop_instance_uid"], sop_instance_uid);
  EXPECT_EQ(file["pixels_readable"], false);
  EXPECT_NE(file["pixel_problem"].get<std::string>().find("ends early"), std::string::npos) << file.dump();
}

std::string cut(const std::string& from, const std::string& to) {
  const std::string bytes = core::read_file(from);
  core::write_file_atomic(to, bytes.substr(0, bytes.size() - 100));
  return to;
}

}  // namespace

TEST(Cli, InfoSaysWhenSyntheticPixelsAreCut) {
  test::TempDir dir;
  io::DicomMeta meta;
  meta.sop_instance_uid = "2.25.77";
  meta.modality = "DX";
  cv::Mat pixels(64, 64, CV_8UC1);
  cv::randu(pixels, 0, 255);
  for (const auto encoding : {io::DicomEncoding::ExplicitLittle, io::DicomEncoding::JpegBaseline}) {
    io::DicomWriteOptions options;
    options.encoding = encoding;
    io::write_dicom(dir / "whole.dcm", pixels, meta, options);
    const auto whole = run_ptx("--json info " + (dir / "whole.dcm"));
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
    EXPECT_EQ(nlohmann::json::parse(whole.out)["files"][0]["pixels_readable"], true);
    expect_info_flags_cut_pixels(cut(dir / "whole.dcm", dir / "cut.dcm"), meta.sop_instance_uid);
  }
}

TEST(Cli, InfoSaysWhenSiimPixelsAreCut) {
  const std::string sample = test::shared_data() + "/siim-sample/";
  const std::string id = "1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027";
  if (test::shared_data().empty() || !std::filesystem::exists(sample + id + ".dcm"))
    GTEST_SKIP() << "../shared/data/siim-sample is absent: real-data test skipped";
  test::TempDir dir;
  expect_info_flags_cut_pixels(cut(sample + id + ".dcm", dir / "cut.dcm"), id);
}

TEST(Cli, EvaluatePrintsJsonAndRleDecodeEncodeRoundTrip) {
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "t.csv", "ImageId,EncodedPixels\na,3 4\nb,-1\n");
  core::write_file_atomic(dir.path() / "p.csv", "ImageId,EncodedPixels\na,3 4\nb,1 1\n");
  const auto r = run_ptx("--json evaluate --truth " + (dir / "t.csv") + " --pred " + (dir / "p.csv") + " --width 8 --height 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["dice"].get<double>(), 0.5);
  EXPECT_EQ(j["images"], 2);
  EXPECT_EQ(j["false_positives"], 1);

  const auto dec = run_ptx("rle decode --text '3 4 10 2' --width 8 --height 8 --out " + (dir / "m.png"));
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  const auto enc = run_ptx("rle encode " + (dir / "m.png"));
  EXPECT_EQ(enc.out, "3 4 10 2\n");
  const auto bad = run_ptx("rle decode --text '3 4 10' --width 8 --height 8 --out " + (dir / "m.png"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("odd count"), std::string::npos);
}

TEST(Cli, ConvertSiimSample) {
  PTX_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const auto r = run_ptx("--json convert --dicom " + test::shared_data() + "/siim-sample --labels " + test::shared_data() +
                         "/siim-sample/train-rle-sample.csv --out " + (dir / "out") + " --size 128 --folds 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["images"], 10);
  EXPECT_EQ(j["positives"], 5);
}

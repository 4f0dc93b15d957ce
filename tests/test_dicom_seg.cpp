// DICOM Segmentation and Secondary Capture outputs (src/ptx/io/dicom_seg) and
// `ptx predict --dicom-seg --dicom-sc`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <dcmtk/dcmdata/dctk.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "ptx/data/synth.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/dicom_write.h"
#include "ptx/io/image.h"
#include "ptx/models/checkpoint.h"
#include "ptx/post/overlay.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {

struct Shell {
  int status;
  std::string out;
};

Shell shell(const std::string& command) {
  Shell r{-1, ""};
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

constexpr const char* kFrameOfReference = "1.2.826.0.1.3680043.8.498.104";

// A radiograph of an odd size (its SEG frame does not end on a byte boundary), with UIDs and the
// given Frame of Reference UID ("" for none, as the challenge's files have).
std::string odd_radiograph(const test::TempDir& dir, const std::string& frame_of_reference,
                           io::DicomMeta* meta_out = nullptr) {
  io::DicomMeta m;
  m.sop_instance_uid = "1.2.826.0.1.3680043.8.498.101";
  m.study_instance_uid = "1.2.826.0.1.3680043.8.498.102";
  m.series_instance_uid = "1.2.826.0.1.3680043.8.498.103";
  m.frame_of_reference_uid = frame_of_reference;
  m.modality = "DX";
  m.pixel_spacing_row_mm = m.pixel_spacing_col_mm = 0.5;
  cv::Mat pixels(45, 70, CV_8U);
  cv::randu(pixels, 0, 255);
  const std::string path = dir / (frame_of_reference.empty() ? "odd-no-for.dcm" : "odd.dcm");
  io::write_dicom(path, pixels, m);
  if (meta_out) *meta_out = io::read_dicom_meta(path);
  return path;
}

cv::Mat blob_mask(cv::Size size) {
  cv::Mat m = cv::Mat::zeros(size, CV_8U);
  cv::ellipse(m, cv::Point(size.width / 3, size.height / 2), cv::Size(size.width / 5, size.height / 4), 20, 0, 360,
              cv::Scalar(255), cv::FILLED);
  m.at<uchar>(0, 0) = 255;                             // the first bit
  m.at<uchar>(size.height - 1, size.width - 1) = 255;  // the last bit
  return m;
}

std::string synth_dicom(const test::TempDir& dir) {
  data::SynthOptions so;
  so.out = dir / "synth";
  so.count = 1;
  so.size = 96;
  so.progress = false;
  const auto s = data::synthesize_dataset(so);
  return (fs::path(so.out) / s.records.at(0).dicom_path).string();
}

// The shared functional groups of the SEG at path hold the group sequence tag.
bool shared_group_has(const std::string& path, const DcmTagKey& group) {
  DcmFileFormat file;
  DcmItem* shared = nullptr;
  return file.loadFile(path.c_str()).good() &&
         file.getDataset()->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good() && shared &&
         shared->tagExists(group);
}

bool has_attribute(const std::string& path, const DcmTagKey& tag) {
  DcmFileFormat file;
  return file.loadFile(path.c_str()).good() && file.getDataset()->tagExists(tag);
}

constexpr const char* kDciodvfy = "/usr/bin/dciodvfy";

// What dciodvfy (dicom3tools) says of the object at path: the lines of its report (on stderr), and
// those that report an error. It names the IOD it checked against on a line of its own.
struct Verdict {
  std::string report;
  std::vector<std::string> errors;
};

Verdict dciodvfy(const std::string& path) {
  Verdict v;
  v.report = shell(std::string(kDciodvfy) + " " + path).out;
  std::istringstream lines(v.report);
  for (std::string line; std::getline(lines, line);)
    if (line.find("Error") != std::string::npos) v.errors.push_back(line);
  return v;
}

// Writes the SEG and the SC of source into dir and expects dciodvfy to find no error in either.
void expect_valid_seg_and_sc(const test::TempDir& dir, const std::string& source, const std::string& name) {
  const io::DicomMeta meta = io::read_dicom_meta(source);
  const cv::Mat mask = blob_mask(cv::Size(meta.columns, meta.rows));
  const std::string seg = dir / (name + "-seg.dcm"), sc = dir / (name + "-sc.dcm");
  io::write_dicom_seg(seg, source, mask);
  io::write_dicom_sc(sc, source, post::draw_overlay(io::read_dicom(source, false).gray8, mask));
  for (const auto& [path, iod] : {std::pair{seg, "Segmentation"}, std::pair{sc, "SCImage"}}) {
    const Verdict v = dciodvfy(path);
    EXPECT_NE(v.report.find(std::string("\n") + iod + "\n"), std::string::npos) << name << ": " << v.report;
    EXPECT_TRUE(v.errors.empty()) << name << " " << iod << ":\n" << v.report;
  }
}

}  // namespace

TEST(DicomSeg, RoundTripsTheMaskPixelExactAndReferencesTheSource) {
  test::TempDir dir;
  for (const std::string& src : {odd_radiograph(dir, kFrameOfReference), odd_radiograph(dir, ""), synth_dicom(dir)}) {
    const io::DicomMeta meta = io::read_dicom_meta(src);
    const cv::Mat mask = blob_mask(cv::Size(meta.columns, meta.rows));
    const std::string seg_path = src + "-seg.dcm";
    io::write_dicom_seg(seg_path, src, mask);

    const auto dump = shell("dcmdump " + seg_path);
    EXPECT_EQ(dump.status, 0) << dump.out;
    EXPECT_NE(dump.out.find("36118008"), std::string::npos);   // Pneumothorax
    EXPECT_NE(dump.out.find("49755003"), std::string::npos);   // Morphologically Altered Structure
    EXPECT_NE(dump.out.find(meta.sop_instance_uid), std::string::npos);
    EXPECT_EQ(dump.out.find("E: "), std::string::npos) << dump.out;  // dcmdump found no errors

    const io::DicomSeg seg = io::read_dicom_seg(seg_path);
    ASSERT_EQ(seg.mask.size(), mask.size());
    EXPECT_EQ(cv::norm(seg.mask, mask, cv::NORM_INF), 0) << src;
    EXPECT_EQ(seg.study_instance_uid, meta.study_instance_uid);
    EXPECT_EQ(seg.frame_of_reference_uid, meta.frame_of_reference_uid);  // shared, or none as the source
    EXPECT_EQ(seg.referenced_sop_instance_uid, meta.sop_instance_uid);
    EXPECT_EQ(seg.referenced_sop_class_uid, meta.sop_class_uid);
    EXPECT_EQ(seg.referenced_series_instance_uid, meta.series_instance_uid);
    EXPECT_FALSE(seg.sop_instance_uid.empty());
    EXPECT_NE(seg.sop_instance_uid, meta.sop_instance_uid);
    EXPECT_NE(seg.series_instance_uid, meta.series_instance_uid);
    EXPECT_EQ(seg.segment_label, "Pneumothorax");
    EXPECT_EQ(seg.property_type_code, "36118008");
    EXPECT_EQ(seg.property_category_code, "49755003");

    // An independent decoder agrees: pydicom unpacks the 1-bit frame to the same pixel count.
    const auto py = shell("/usr/bin/python3 -c \"import pydicom; d = pydicom.dcmread('" + seg_path +
                          "'); print(d.Modality, int(d.pixel_array.sum()), d.pixel_array.shape)\"");
    if (py.status == 0) {
      EXPECT_NE(py.out.find("SEG " + std::to_string(cv::countNonZero(mask)) + " (" + std::to_string(meta.rows) + ", " +
                            std::to_string(meta.columns) + ")"),
                std::string::npos)
          << py.out;
    }
  }
}

TEST(DicomSeg, OfASourceWithoutFrameOfReferenceHasNoneAndNoPlaneOrPixelMeasures) {
  test::TempDir dir;
  const std::string seg = dir / "seg.dcm";
  io::write_dicom_seg(seg, odd_radiograph(dir, ""), blob_mask(cv::Size(70, 45)));
  EXPECT_FALSE(has_attribute(seg, DCM_FrameOfReferenceUID));
  EXPECT_FALSE(has_attribute(seg, DCM_PositionReferenceIndicator));
  EXPECT_TRUE(has_attribute(seg, DCM_PatientOrientation));  // what the rows and columns face instead
  EXPECT_FALSE(shared_group_has(seg, DCM_PixelMeasuresSequence));
  EXPECT_FALSE(shared_group_has(seg, DCM_PlanePositionSequence));
  EXPECT_FALSE(shared_group_has(seg, DCM_PlaneOrientationSequence));
  EXPECT_TRUE(io::read_dicom_seg(seg).frame_of_reference_uid.empty());
}

TEST(DicomSeg, OfASourceWithFrameOfReferenceSharesItAndPlacesItsFrameInIt) {
  test::TempDir dir;
  const std::string seg = dir / "seg.dcm";
  io::write_dicom_seg(seg, odd_radiograph(dir, kFrameOfReference), blob_mask(cv::Size(70, 45)));
  EXPECT_EQ(io::read_dicom_seg(seg).frame_of_reference_uid, kFrameOfReference);
  EXPECT_TRUE(shared_group_has(seg, DCM_PixelMeasuresSequence));
  EXPECT_TRUE(shared_group_has(seg, DCM_PlanePositionSequence));
  EXPECT_TRUE(shared_group_has(seg, DCM_PlaneOrientationSequence));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(seg.c_str()).good());
  DcmItem *shared = nullptr, *measures = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good());
  ASSERT_TRUE(shared->findAndGetSequenceItem(DCM_PixelMeasuresSequence, measures, 0).good());
  OFString spacing, thickness;
  measures->findAndGetOFStringArray(DCM_PixelSpacing, spacing);
  measures->findAndGetOFString(DCM_SliceThickness, thickness);
  EXPECT_EQ(spacing, "0.5\\0.5");  // the source's
  EXPECT_FALSE(thickness.empty());  // the IOD requires it with a Frame of Reference
}

TEST(DicomSeg, SegAndScOfSyntheticSourcesWithAndWithoutFrameOfReferencePassDciodvfy) {
  if (!fs::exists(kDciodvfy)) GTEST_SKIP() << kDciodvfy << " is absent (Debian dicom3tools): validation skipped";
  test::TempDir dir;
  expect_valid_seg_and_sc(dir, odd_radiograph(dir, kFrameOfReference), "with-frame-of-reference");
  expect_valid_seg_and_sc(dir, odd_radiograph(dir, ""), "without-frame-of-reference");
  expect_valid_seg_and_sc(dir, synth_dicom(dir), "synth");
}

TEST(DicomSeg, SegAndScOfTheChallengesFilesPassDciodvfy) {
  if (!fs::exists(kDciodvfy)) GTEST_SKIP() << kDciodvfy << " is absent (Debian dicom3tools): validation skipped";
  const std::string sample = test::shared_data() + "/siim-sample";
  if (test::shared_data().empty() || !fs::is_directory(sample))
    GTEST_SKIP() << sample << " is absent: validation of the challenge's files skipped";
  test::TempDir dir;
  // One with the bare Patient's Age, one with the over-long Pixel Spacing (see the test above).
  for (const char* id : {"1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027",
                         "1.2.276.0.7230010.3.1.4.8323329.1314.1517875167.222290"})
    expect_valid_seg_and_sc(dir, sample + "/" + id + ".dcm", id);
}

TEST(DicomSeg, TheChallengesOwnFilesGetAValidSegAndScDespiteTheirBareAgeAndLongSpacing) {
  PTX_REQUIRE_SHARED_DATA();
  // The challenge writes Patient's Age as bare years ("38"), which DCMTK refuses to copy into a
  // derived object: the SEG carries it as the Age String "038Y".
  const std::string src = test::shared_data() + "/siim-sample/1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027.dcm";
  DcmFileFormat source;
  ASSERT_TRUE(source.loadFile(src.c_str()).good());
  OFString age;
  source.getDataset()->findAndGetOFString(DCM_PatientAge, age);
  ASSERT_EQ(age, "38");
  test::TempDir dir;
  const cv::Mat mask = blob_mask(cv::Size(1024, 1024));
  io::write_dicom_seg(dir / "seg.dcm", src, mask);
  EXPECT_EQ(cv::countNonZero(io::read_dicom_seg(dir / "seg.dcm").mask != mask), 0);
  DcmFileFormat seg;
  ASSERT_TRUE(seg.loadFile((dir / "seg.dcm").c_str()).good());
  seg.getDataset()->findAndGetOFString(DCM_PatientAge, age);
  EXPECT_EQ(age, "038Y");
  io::write_dicom_sc(dir / "sc.dcm", src, cv::Mat(1024, 1024, CV_8UC3, cv::Scalar(1, 2, 3)));
  EXPECT_TRUE(fs::exists(dir / "sc.dcm"));
  // Another writes its Pixel Spacing with 17 significant digits, longer than a Decimal String may
  // be: the SEG and SC carry it shortened.
  const std::string long_spacing =
      test::shared_data() + "/siim-sample/1.2.276.0.7230010.3.1.4.8323329.1314.1517875167.222290.dcm";
  io::write_dicom_seg(dir / "seg2.dcm", long_spacing, mask);
  io::write_dicom_sc(dir / "sc2.dcm", long_spacing, cv::Mat(1024, 1024, CV_8UC3, cv::Scalar(1, 2, 3)));
  DcmFileFormat sc;
  ASSERT_TRUE(sc.loadFile((dir / "sc2.dcm").c_str()).good());
  OFString spacing;
  sc.getDataset()->findAndGetOFStringArray(DCM_PixelSpacing, spacing);
  EXPECT_EQ(spacing, "0.143\\0.143");
}

TEST(DicomSeg, RefusesAMaskOfAnotherSizeAndNonSegFiles) {
  test::TempDir dir;
  const std::string src = odd_radiograph(dir, kFrameOfReference);
  EXPECT_NE(test::error_of([&] { io::write_dicom_seg(dir / "s.dcm", src, cv::Mat::zeros(10, 10, CV_8U)); }).find("source image is 70x45"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "s.dcm"));
  EXPECT_NE(test::error_of([&] { io::read_dicom_seg(src); }).find("not a DICOM Segmentation"), std::string::npos);
}

TEST(DicomSc, HoldsTheOverlayInTheSourceStudyAtTheSourceGeometry) {
  test::TempDir dir;
  io::DicomMeta meta;
  const std::string src = odd_radiograph(dir, kFrameOfReference, &meta);
  const cv::Mat gray = io::read_dicom(src, false).gray8;
  const cv::Mat picture = post::draw_overlay(gray, blob_mask(gray.size()));
  const std::string sc = dir / "sc.dcm";
  io::write_dicom_sc(sc, src, picture);
  const auto dump = shell("dcmdump " + sc);
  EXPECT_EQ(dump.status, 0) << dump.out;
  EXPECT_NE(dump.out.find(meta.sop_instance_uid), std::string::npos);  // Source Image Sequence
  const io::DicomMeta back = io::read_dicom_meta(sc);
  EXPECT_EQ(back.rows, meta.rows);
  EXPECT_EQ(back.columns, meta.columns);
  EXPECT_EQ(back.pixel_spacing_row_mm, meta.pixel_spacing_row_mm);
  EXPECT_EQ(back.pixel_spacing_col_mm, meta.pixel_spacing_col_mm);
  EXPECT_EQ(back.study_instance_uid, meta.study_instance_uid);
  EXPECT_NE(back.series_instance_uid, meta.series_instance_uid);
  EXPECT_NE(back.sop_instance_uid, meta.sop_instance_uid);
  EXPECT_EQ(back.sop_class_uid, "1.2.840.10008.5.1.4.1.1.7");
  EXPECT_EQ(back.samples_per_pixel, 3);
  EXPECT_EQ(back.photometric_interpretation, "RGB");
  EXPECT_EQ(cv::norm(io::read_dicom_sc_pixels(sc), picture, cv::NORM_INF), 0);
}

TEST(PredictDicom, WritesSegAndScForPositiveDicomsAndSkipsPngs) {
  test::TempDir dir;
  data::SynthOptions so;
  so.out = dir / "synth";
  so.count = 2;
  so.size = 64;
  so.progress = false;
  const auto synth = data::synthesize_dataset(so);
  fs::create_directories(dir / "in");
  io::write_png(dir / "in/plain.png", cv::Mat(64, 64, CV_8U, cv::Scalar(90)));
  // A U-Net whose head bias of +20 makes every pixel certain: every image is positive.
  models::ModelSpec spec;
  spec.arch = "unet";
  spec.encoder = "resnet18";
  spec.in_channels = 1;
  spec.decoder_channels = {32, 16, 16, 8, 8};
  torch::manual_seed(1);
  auto model = models::build_model(spec);
  {
    torch::NoGradGuard g;
    for (auto& p : model->named_parameters())
      if (p.key() == "segmentation_head.0.bias") p.value().fill_(20.0f);
  }
  const nlohmann::json meta{{"input", {{"size", 64}, {"channels", 1}, {"normalize", "none"}}}};
  const std::string ckpt = dir / "seg.ckpt";
  models::save_checkpoint(ckpt, models::make_checkpoint(*model, spec, models::TrainState{{}, meta.dump()}));
  const auto r = test::run_ptx("predict --checkpoint " + ckpt + " --input " + (dir / "synth") + " " + (dir / "in") +
                               " --out " + (dir / "out") + " --dicom-seg --dicom-sc --tta none --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["images"], 3);
  EXPECT_EQ(j["dicom_seg"], 2);
  EXPECT_EQ(j["dicom_sc"], 2);
  EXPECT_EQ(j["dicom_skipped"], 1);
  EXPECT_EQ(j["dicom_failed"], 0);
  EXPECT_NE(r.err.find("not DICOM"), std::string::npos);  // the warning
  EXPECT_FALSE(fs::exists(dir / "out/seg/plain.dcm"));
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir / "out/seg")) {
    const std::string id = e.path().stem().string();
    const io::DicomSeg seg = io::read_dicom_seg(e.path().string());
    const cv::Mat mask = io::read_gray_image(dir / ("out/masks/" + id + ".png"));
    EXPECT_EQ(cv::norm(seg.mask, mask, cv::NORM_INF), 0) << id;
    EXPECT_EQ(seg.referenced_sop_instance_uid, id);  // a challenge DICOM's file stem is its SOPInstanceUID
    for (const auto& record : synth.records)
      if (fs::path(record.dicom_path).stem() == id) {  // the phantoms have a Frame of Reference: shared
        EXPECT_EQ(seg.frame_of_reference_uid, io::read_dicom_meta(fs::path(so.out) / record.dicom_path).frame_of_reference_uid);
      }
    EXPECT_TRUE(fs::exists(dir / ("out/sc/" + id + ".dcm")));
    EXPECT_EQ(io::read_dicom_meta(dir / ("out/sc/" + id + ".dcm")).rows, mask.rows);
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

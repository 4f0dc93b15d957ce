#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <dcmtk/dcmdata/dctk.h>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_write.h"
#include "test_support.h"

using namespace ptx;
using io::DicomEncoding;
namespace fs = std::filesystem;

namespace {

const char* kSiimId = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819";

io::DicomMeta test_meta(const std::string& photometric = "MONOCHROME2", int bits_stored = 0) {
  io::DicomMeta m;
  m.sop_instance_uid = "2.25.1234";
  m.study_instance_uid = "2.25.1";
  m.series_instance_uid = "2.25.2";
  m.modality = "CR";
  m.body_part_examined = "CHEST";
  m.view_position = "PA";
  m.patient_sex = "F";
  m.patient_age_years = 38;
  m.pixel_spacing_row_mm = m.pixel_spacing_col_mm = 0.168;
  m.photometric_interpretation = photometric;
  m.bits_stored = bits_stored;
  return m;
}

// A 12-bit ramp, 64 x 48: every value differs so lossless codecs are checked pixel by pixel.
cv::Mat ramp12() {
  cv::Mat m(48, 64, CV_16UC1);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) m.at<uint16_t>(y, x) = static_cast<uint16_t>((y * 64 + x) * 4095 / (48 * 64 - 1));
  return m;
}

cv::Mat ramp8() {
  cv::Mat m(40, 50, CV_8UC1);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = static_cast<uint8_t>((x * 5 + y) % 256);
  return m;
}

int max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  double mx;
  cv::Mat d;
  cv::absdiff(a, b, d);
  cv::minMaxLoc(d, nullptr, &mx);
  return static_cast<int>(mx);
}

}  // namespace

TEST(Dicom, ParsesAgeStrings) {
  EXPECT_DOUBLE_EQ(*io::parse_age_years("016Y"), 16);
  EXPECT_DOUBLE_EQ(*io::parse_age_years("16"), 16);
  EXPECT_DOUBLE_EQ(*io::parse_age_years("038M"), 38.0 / 12.0);
  EXPECT_NEAR(*io::parse_age_years("010W"), 70 / 365.25, 1e-12);
  EXPECT_FALSE(io::parse_age_years(""));
  EXPECT_FALSE(io::parse_age_years("abc"));
}

TEST(Dicom, ReadsRealSiimJpegBaseline) {
  PTX_REQUIRE_SHARED_DATA();
  const std::string path = test::shared_data() + "/dicom-variants/" + kSiimId + ".dcm";
  const io::DicomImage img = io::read_dicom(path);
  EXPECT_EQ(img.meta.sop_instance_uid, kSiimId);
  EXPECT_EQ(img.meta.modality, "CR");
  EXPECT_EQ(img.meta.transfer_syntax_uid, "1.2.840.10008.1.2.4.50");
  EXPECT_EQ(img.meta.rows, 1024);
  EXPECT_EQ(img.gray8.size(), cv::Size(1024, 1024));
  EXPECT_EQ(img.gray32f.type(), CV_32FC1);
  EXPECT_TRUE(img.meta.patient_age_years.has_value());
  EXPECT_TRUE(img.meta.pixel_spacing_row_mm.has_value());
  EXPECT_TRUE(io::chest_radiograph_warnings(img.meta).empty());
  const double mean = cv::mean(img.gray8)[0];
  EXPECT_GT(mean, 40);
  EXPECT_LT(mean, 220);
}

// The MONOCHROME1 copy has the same stored pixels; it is read through DCMTK's decoder while the
// MONOCHROME2 original takes the libjpeg-turbo path, so this also checks the two decoders agree.
TEST(Dicom, Monochrome1IsInvertedAndDecodersAgree) {
  PTX_REQUIRE_SHARED_DATA();
  const io::DicomImage mono2 = io::read_dicom(test::shared_data() + "/dicom-variants/" + kSiimId + ".dcm");
  const io::DicomImage mono1 = io::read_dicom(test::shared_data() + "/dicom-variants/siim-6904-monochrome1.dcm");
  ASSERT_EQ(mono1.meta.photometric_interpretation, "MONOCHROME1");
  cv::Mat inverted = 255 - mono1.gray8;
  EXPECT_LE(max_abs_diff(inverted, mono2.gray8), 0);
}

TEST(Dicom, ReadsUncompressedNihAndFlagsCtScout) {
  PTX_REQUIRE_SHARED_DATA();
  const io::DicomImage nih = io::read_dicom(test::shared_data() + "/dicom-variants/nih-cxr-uncompressed.dcm");
  EXPECT_EQ(nih.meta.modality, "DX");
  EXPECT_EQ(nih.gray8.size(), cv::Size(1024, 1024));
  EXPECT_TRUE(io::chest_radiograph_warnings(nih.meta).empty());
  const io::DicomMeta ct = io::read_dicom_meta(test::shared_data() + "/dicom-variants/ct-scout-not-a-chest-xray.dcm");
  EXPECT_FALSE(io::chest_radiograph_warnings(ct).empty());
}

TEST(Dicom, TruncatedAndNonDicomFilesAreErrorsNamingTheFile) {
  PTX_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  const std::string bytes = core::read_file(test::shared_data() + "/dicom-variants/" + kSiimId + ".dcm");
  const std::string truncated = dir / "truncated.dcm", text = dir / "notes.dcm";
  core::write_file_atomic(truncated, bytes.substr(0, bytes.size() / 2));
  core::write_file_atomic(text, "this is not a DICOM file at all, just some text\n");
  for (const std::string& path : {truncated, text, dir / "missing.dcm"}) {
    try {
      io::read_dicom(path);
      FAIL() << path << " was accepted";
    } catch (const core::Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// check_dicom finds missing pixels from lengths alone: a file cut short, a Pixel Data element
// shorter than Rows x Columns needs, no Pixel Data at all.
TEST(Dicom, CheckFindsIncompletePixelsWithoutDecoding) {
  test::TempDir dir;
  const std::string path = dir / "ramp.dcm";
  io::write_dicom(path, ramp12(), test_meta());
  EXPECT_EQ(io::check_dicom(path).pixel_problem, "");
  const std::string bytes = core::read_file(path);
  core::write_file_atomic(dir / "cut.dcm", bytes.substr(0, bytes.size() - 10));
  const io::DicomCheck cut = io::check_dicom(dir / "cut.dcm");
  EXPECT_EQ(cut.meta.sop_instance_uid, "2.25.1234");
  EXPECT_NE(cut.pixel_problem.find("ends early"), std::string::npos) << cut.pixel_problem;

  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(path.c_str()).good());
  file.getDataset()->putAndInsertUint16(DCM_Rows, 96);  // the element holds 48 rows
  ASSERT_TRUE(file.saveFile((dir / "short.dcm").c_str(), EXS_LittleEndianExplicit).good());
  EXPECT_EQ(io::check_dicom(dir / "short.dcm").pixel_problem,
            "pixel data is 6144 bytes but Rows x Columns x samples x frames x bits needs 12288");
  EXPECT_NE(test::error_of([&] { io::read_dicom(dir / "short.dcm"); }).find(dir / "short.dcm"), std::string::npos);
  delete file.getDataset()->remove(DCM_PixelData);
  ASSERT_TRUE(file.saveFile((dir / "none.dcm").c_str(), EXS_LittleEndianExplicit).good());
  EXPECT_EQ(io::check_dicom(dir / "none.dcm").pixel_problem, "has no pixel data (not an image)");
}

TEST(Dicom, RoundTripsWrittenFilesInEveryEncoding) {
  test::TempDir dir;
  const cv::Mat pixels = ramp12();
  const io::DicomMeta meta = test_meta("MONOCHROME2", 12);
  cv::Mat reference;
  for (DicomEncoding enc : {DicomEncoding::ExplicitLittle, DicomEncoding::ImplicitLittle, DicomEncoding::ExplicitBig,
                            DicomEncoding::JpegLsLossless, DicomEncoding::RleLossless}) {
    const std::string path = dir / ("ramp" + std::to_string(int(enc)) + ".dcm");
    io::DicomWriteOptions opt;
    opt.encoding = enc;
    io::write_dicom(path, pixels, meta, opt);
    const io::DicomImage img = io::read_dicom(path);
    EXPECT_EQ(img.meta.bits_stored, 12);
    EXPECT_EQ(img.meta.patient_sex, "F");
    EXPECT_DOUBLE_EQ(*img.meta.patient_age_years, 38);
    EXPECT_EQ(img.meta.view_position, "PA");
    EXPECT_EQ(img.rendering, "robust-min-max");
    if (reference.empty()) reference = img.gray32f;
    else EXPECT_EQ(max_abs_diff(img.gray32f, reference), 0) << "encoding " << int(enc);
  }
  // Robust min-max: the ramp spans [0,1], monotone, clipped only in the outer 0.5 %.
  EXPECT_FLOAT_EQ(reference.at<float>(0, 0), 0.f);
  EXPECT_FLOAT_EQ(reference.at<float>(47, 63), 1.f);
  EXPECT_NEAR(reference.at<float>(24, 0), 0.5f, 0.02f);
}

TEST(Dicom, WindowCenterWidthIsApplied) {
  test::TempDir dir;
  cv::Mat pixels(4, 4, CV_16UC1);
  const uint16_t values[16] = {0, 500, 899, 900, 950, 1000, 1050, 1099, 1100, 1200, 4000, 1000, 1000, 1000, 1000, 1000};
  std::memcpy(pixels.data, values, sizeof values);
  io::DicomWriteOptions opt;
  opt.window_center = 1000;
  opt.window_width = 200;
  const std::string path = dir / "windowed.dcm";
  io::write_dicom(path, pixels, test_meta("MONOCHROME2", 12), opt);
  const io::DicomImage img = io::read_dicom(path);
  EXPECT_EQ(img.rendering, "window");
  EXPECT_EQ(img.gray8.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(img.gray8.at<uint8_t>(0, 2), 0);
  EXPECT_NEAR(img.gray8.at<uint8_t>(1, 1), 128, 2);  // 1000 = centre
  EXPECT_EQ(img.gray8.at<uint8_t>(2, 0), 255);
  EXPECT_EQ(img.gray8.at<uint8_t>(2, 2), 255);
  // MONOCHROME1 with the same window: inverted.
  io::write_dicom(path, pixels, test_meta("MONOCHROME1", 12), opt);
  const io::DicomImage inv = io::read_dicom(path);
  EXPECT_EQ(inv.gray8.at<uint8_t>(0, 0), 255);
  EXPECT_EQ(inv.gray8.at<uint8_t>(2, 2), 0);
}

TEST(Dicom, EightBitStoredValuesAndMonochrome1) {
  test::TempDir dir;
  const cv::Mat pixels = ramp8();
  const std::string a = dir / "mono2.dcm", b = dir / "mono1.dcm", c = dir / "jpeg.dcm";
  io::write_dicom(a, pixels, test_meta("MONOCHROME2"));
  io::write_dicom(b, pixels, test_meta("MONOCHROME1"));
  EXPECT_EQ(max_abs_diff(io::read_dicom(a).gray8, pixels), 0);
  EXPECT_EQ(max_abs_diff(io::read_dicom(b).gray8, 255 - pixels), 0);
  io::DicomWriteOptions jpeg;
  jpeg.encoding = DicomEncoding::JpegBaseline;
  jpeg.jpeg_quality = 95;
  const cv::Mat lifted = pixels / 2 + 40;  // darkest pixel 40: catches an encoder that shifts values to 0
  io::write_dicom(c, lifted, test_meta(), jpeg);
  const io::DicomImage j = io::read_dicom(c);
  EXPECT_EQ(j.meta.transfer_syntax_uid, "1.2.840.10008.1.2.4.50");
  EXPECT_EQ(j.meta.sop_instance_uid, "2.25.1234");  // lossy compression kept our UID
  EXPECT_LT(cv::norm(j.gray8, lifted, cv::NORM_L1) / lifted.total(), 2.0);
  EXPECT_THROW(io::write_dicom(c, ramp12(), test_meta(), jpeg), core::Error);  // JPEG Baseline is 8-bit
}

// A full 16-bit range and a VOI LUT sequence (written into the file with DCMTK): the LUT, not a
// min-max, decides the grey levels.
TEST(Dicom, SixteenBitWithVoiLutSequence) {
  test::TempDir dir;
  cv::Mat pixels(2, 4, CV_16UC1);
  const uint16_t values[8] = {0, 1000, 2000, 3000, 40000, 50000, 60000, 65535};
  std::memcpy(pixels.data, values, sizeof values);
  const std::string path = dir / "voilut.dcm";
  io::write_dicom(path, pixels, test_meta("MONOCHROME2", 16));
  EXPECT_EQ(io::read_dicom(path).rendering, "robust-min-max");

  // A 4-entry LUT starting at input 0: 0 stays black and every value from 1 up is white (inputs
  // past the table take its last entry); a min-max rendering would give graded values instead.
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(path.c_str()).good());
  DcmItem* item = nullptr;
  ASSERT_TRUE(file.getDataset()->findOrCreateSequenceItem(DCM_VOILUTSequence, item, -2).good());
  const Uint16 descriptor[3] = {4, 0, 16};
  const Uint16 lut[4] = {0, 65535, 65535, 65535};
  ASSERT_TRUE(item->putAndInsertUint16Array(DCM_LUTDescriptor, descriptor, 3).good());
  ASSERT_TRUE(item->putAndInsertUint16Array(DCM_LUTData, lut, 4).good());
  ASSERT_TRUE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());

  const io::DicomImage img = io::read_dicom(path);
  EXPECT_EQ(img.rendering, "voi-lut");
  EXPECT_EQ(img.meta.bits_stored, 16);
  EXPECT_EQ(img.gray8.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(img.gray8.at<uint8_t>(0, 1), 255);
  EXPECT_EQ(img.gray8.at<uint8_t>(1, 3), 255);
}

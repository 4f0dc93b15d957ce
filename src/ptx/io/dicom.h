// Reading chest radiographs from DICOM with DCMTK: metadata, and pixels normalised for display and
// for models (MONOCHROME2 convention: bright = dense).
#pragma once
#include <optional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace ptx::io {

struct DicomMeta {
  std::string sop_instance_uid;  // the challenge's ImageId
  std::string study_instance_uid;
  std::string series_instance_uid;
  std::string frame_of_reference_uid;
  std::string sop_class_uid;
  std::string modality;
  std::string body_part_examined;
  std::string view_position;
  std::string patient_sex;
  std::optional<double> patient_age_years;
  std::optional<double> pixel_spacing_row_mm, pixel_spacing_col_mm;
  int rows = 0, columns = 0;
  std::string photometric_interpretation;
  int bits_allocated = 0, bits_stored = 0, samples_per_pixel = 0, frames = 1;
  std::string transfer_syntax_uid;
};

// A decoded radiograph at its native size.
struct DicomImage {
  DicomMeta meta;
  cv::Mat gray8;     // CV_8UC1, 0..255
  cv::Mat gray32f;   // CV_32FC1, 0..1 (from a 16-bit rendering, so 12/16-bit detail is kept)
  std::string rendering;  // how grey levels were chosen: "voi-lut", "window", "stored", "robust-min-max"
};

// Parses a DICOM Age String into years: "016Y", "16" (years), "038M", "010W", "005D".
std::optional<double> parse_age_years(const std::string& text);

// Reads the header only (stops before the pixel data). Throws core::Error naming the file when it
// is not DICOM or cannot be read.
DicomMeta read_dicom_meta(const std::string& path);

// The header of a file and whether its pixels are all there, found without decoding them.
struct DicomCheck {
  DicomMeta meta;
  std::string pixel_problem;  // "" when the pixel data is complete, else why it cannot be read
};

// Reads the whole file but leaves the pixel values on disk, so it costs little more than
// read_dicom_meta. A pixel problem is: the file ends early, no Pixel Data element, an uncompressed
// element shorter than Rows x Columns x samples x frames x bits / 8, or fewer fragments than
// frames. Throws core::Error as read_dicom_meta does when even the header is unreadable.
DicomCheck check_dicom(const std::string& path);

// Reads header and pixels. Grey levels: the VOI LUT when present, otherwise the first Window
// Center/Width, otherwise stored values for 8-bit images and a robust min-max (0.5th to 99.5th
// percentile) for deeper ones; Rescale Slope/Intercept applied first; MONOCHROME1 inverted.
// with_float = false skips the float image (conversion needs only 8 bits).
DicomImage read_dicom(const std::string& path, bool with_float = true);

// Why the file does not look like a chest radiograph (empty when it does): modality other than
// CR/DX, colour, several frames, or a body part that is not the chest.
std::vector<std::string> chest_radiograph_warnings(const DicomMeta& meta);

// Registers DCMTK's JPEG, JPEG-LS and RLE decoders and limits its logger to errors, once
// (thread-safe; every reader calls it).
void register_dicom_codecs();

}  // namespace ptx::io

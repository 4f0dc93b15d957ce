// Writing radiographs as DICOM (synthetic data sets, test files, derived images).
#pragma once
#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "ptx/io/dicom.h"

namespace ptx::io {

enum class DicomEncoding {
  ImplicitLittle,  // 1.2.840.10008.1.2
  ExplicitLittle,  // 1.2.840.10008.1.2.1
  ExplicitBig,     // 1.2.840.10008.1.2.2 (retired, still met)
  JpegBaseline,    // 1.2.840.10008.1.2.4.50 (8-bit only; the challenge's files)
  JpegLsLossless,  // 1.2.840.10008.1.2.4.80
  RleLossless,     // 1.2.840.10008.1.2.5
};

struct DicomWriteOptions {
  DicomEncoding encoding = DicomEncoding::ExplicitLittle;
  int jpeg_quality = 90;
  std::optional<double> window_center, window_width;
  std::optional<double> rescale_slope, rescale_intercept;
};

// Writes pixels (CV_8UC1 or CV_16UC1; bits stored = 8 or meta.bits_stored when set for 16-bit)
// with the header fields of meta (UIDs, modality, sex, age in years, view, body part, spacing,
// photometric interpretation, default MONOCHROME2). Atomic. Throws core::Error.
void write_dicom(const std::string& path, const cv::Mat& pixels, const DicomMeta& meta,
                 const DicomWriteOptions& options = {});

}  // namespace ptx::io

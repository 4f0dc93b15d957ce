// Plain image files (PNG, JPEG) through OpenCV, written atomically.
#pragma once
#include <opencv2/core.hpp>
#include <string>

namespace ptx::io {

// Reads an image as 8-bit grey (16-bit files are scaled down); throws core::Error naming the file.
cv::Mat read_gray_image(const std::string& path);

// Encodes and writes a PNG atomically: greyscale through encode_png_gray (libdeflate), colour
// through OpenCV.
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace ptx::io

// Plain image files (PNG, JPEG) through OpenCV, written atomically.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

namespace ptx::io {

// Reads an image as 8-bit grey (16-bit files are scaled down); throws core::Error naming the file.
cv::Mat read_gray_image(const std::string& path);

// The same from encoded bytes in memory (an upload); `what` names them in the error.
cv::Mat decode_gray_image(std::string_view bytes, const std::string& what);

// PNG file bytes: greyscale through encode_png_gray (libdeflate), colour through OpenCV.
std::string encode_png(const cv::Mat& image);

// Encodes and writes a PNG atomically: greyscale through encode_png_gray (libdeflate), colour
// through OpenCV.
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace ptx::io

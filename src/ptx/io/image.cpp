#include "ptx/io/image.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/io/png_encode.h"

namespace ptx::io {

namespace {
// 8-bit grey from what OpenCV decoded; empty (undecodable) is an error naming `what`.
cv::Mat to_gray8(cv::Mat img, const std::string& what) {
  if (img.empty()) throw core::Error(core::at(what) + "not a readable image (PNG, JPEG, ...)");
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 255.0 / 65535.0);
  else if (img.depth() != CV_8U) img.convertTo(img, CV_8U);
  return img;
}
}  // namespace

cv::Mat read_gray_image(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw core::Error(core::at(path) + "no such file; check the path");
  return to_gray8(cv::imread(path, cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH), path);
}

cv::Mat decode_gray_image(std::string_view bytes, const std::string& what) {
  const cv::Mat buffer(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  return to_gray8(bytes.empty() ? cv::Mat() : cv::imdecode(buffer, cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH), what);
}

std::string encode_png(const cv::Mat& image) {
  if (image.type() == CV_8UC1 || image.type() == CV_16UC1) return encode_png_gray(image);
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw core::Error("PNG encoding failed");
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void write_png(const std::string& path, const cv::Mat& image) {
  std::string bytes;
  try {
    bytes = encode_png(image);
  } catch (const core::Error& e) {
    throw core::Error(core::at(path) + e.what());
  }
  core::write_file_atomic(path, bytes);
}

}  // namespace ptx::io

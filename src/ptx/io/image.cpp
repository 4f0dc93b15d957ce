#include "ptx/io/image.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/io/png_encode.h"

namespace ptx::io {

cv::Mat read_gray_image(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw core::Error(core::at(path) + "no such file; check the path");
  cv::Mat img = cv::imread(path, cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH);
  if (img.empty()) throw core::Error(core::at(path) + "not a readable image (PNG, JPEG, ...)");
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 255.0 / 65535.0);
  else if (img.depth() != CV_8U) img.convertTo(img, CV_8U);
  return img;
}

void write_png(const std::string& path, const cv::Mat& image) {
  if (image.type() == CV_8UC1 || image.type() == CV_16UC1) {
    core::write_file_atomic(path, encode_png_gray(image));
    return;
  }
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw core::Error(core::at(path) + "PNG encoding failed");
  core::write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace ptx::io

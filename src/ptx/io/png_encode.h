// A fast PNG encoder for greyscale images (8- or 16-bit): the "Sub" filter on every row and
// libdeflate's zlib compression. It writes a radiograph much faster than OpenCV's libpng/zlib path
// at its fastest setting, for files about 10 % larger (bench_convert prints both); any PNG reader
// decodes it.
#pragma once
#include <opencv2/core.hpp>
#include <string>

namespace ptx::io {

// PNG file bytes of a CV_8UC1 or CV_16UC1 image. level: libdeflate's 1 (fastest) to 12.
std::string encode_png_gray(const cv::Mat& image, int level = 1);

}  // namespace ptx::io

#include "ptx/post/probability_map.h"

#include <opencv2/imgcodecs.hpp>

#include "ptx/core/error.h"
#include "ptx/io/image.h"
#include "ptx/post/triplet.h"

namespace ptx::post {

cv::Mat read_probability_map(const std::string& path) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) throw core::Error(path + ": cannot read the probability map (expected a PNG)");
  if (m.channels() != 1 || (m.depth() != CV_16U && m.depth() != CV_8U))
    throw core::Error(path + ": a probability map is a one-channel 8- or 16-bit PNG");
  if (m.depth() == CV_8U) m.convertTo(m, CV_16U, 65535.0 / 255.0);
  return m;
}

void write_probability_map(const std::string& path, const cv::Mat& probability) {
  io::write_png(path, quantize_probability(probability));
}

}  // namespace ptx::post

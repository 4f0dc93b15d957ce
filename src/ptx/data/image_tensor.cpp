#include "ptx/data/image_tensor.h"

#include <opencv2/imgproc.hpp>

#include "ptx/core/error.h"

namespace ptx::data {

namespace {
// ImageNet's channel statistics; one grey channel uses their average (as timm does for grey).
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};
constexpr float kGreyMean = 0.449f, kGreyStd = 0.226f;
}  // namespace

Normalization parse_normalization(const std::string& value, const std::string& key) {
  if (value == "none") return Normalization::none;
  if (value == "imagenet") return Normalization::imagenet;
  throw core::Error(key + ": got '" + value + "'; valid choices: none, imagenet");
}

cv::Mat resize_square(const cv::Mat& image, int size) {
  if (size <= 0 || (image.cols == size && image.rows == size)) return image;
  const bool down = size <= image.cols && size <= image.rows;
  cv::Mat out;
  cv::resize(image, out, cv::Size(size, size), 0, 0, down ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

torch::Tensor image_to_tensor(const cv::Mat& image, int channels, Normalization normalize) {
  if (channels != 1 && channels != 3) throw core::Error("image_to_tensor: channels must be 1 or 3, got " + std::to_string(channels));
  cv::Mat grey = image;
  if (grey.channels() == 3) cv::cvtColor(grey, grey, cv::COLOR_RGB2GRAY);
  if (grey.type() != CV_8UC1) throw core::Error("image_to_tensor: expected an 8-bit image");
  const int h = grey.rows, w = grey.cols;
  auto out = torch::empty({channels, h, w}, torch::kFloat32);
  for (int k = 0; k < channels; ++k) {
    float scale = 1.0f / 255.0f, shift = 0.0f;
    if (normalize == Normalization::imagenet) {
      const float mean = channels == 1 ? kGreyMean : kMean[k], sd = channels == 1 ? kGreyStd : kStd[k];
      scale = 1.0f / (255.0f * sd);
      shift = -mean / sd;
    }
    cv::Mat plane(h, w, CV_32F, out.data_ptr<float>() + std::size_t(k) * h * w);
    grey.convertTo(plane, CV_32F, scale, shift);
  }
  return out;
}

}  // namespace ptx::data

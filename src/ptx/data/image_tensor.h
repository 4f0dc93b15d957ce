// A radiograph as the model's input tensor, the same way in training and in prediction: resized
// (area interpolation down, linear up), scaled to [0, 1], optionally normalised with ImageNet's
// channel statistics, grey replicated to 3 channels when the model takes 3.
#pragma once
#include <torch/types.h>

#include <opencv2/core.hpp>
#include <string>

namespace ptx::data {

enum class Normalization {
  none,      // x / 255
  imagenet,  // (x / 255 - mean) / std per channel; one channel uses the channel average
};
// "none" | "imagenet"; anything else is a core::Error naming `key` and the choices.
Normalization parse_normalization(const std::string& value, const std::string& key);

// image resized to size x size (size 0 or the same size: unchanged, shared).
cv::Mat resize_square(const cv::Mat& image, int size);

// A CV_8UC1 (or CV_8UC3, converted to grey) image as a float32 channels x H x W tensor.
torch::Tensor image_to_tensor(const cv::Mat& image, int channels, Normalization normalize);

}  // namespace ptx::data

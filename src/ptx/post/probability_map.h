// Probability maps on disk: one-channel 16-bit PNGs, 65535 = probability 1 (the scale the triplet
// compares on, see triplet.h). Written by `ptx predict --save-probabilities`, read by the
// threshold search and `ptx submit`.
#pragma once
#include <opencv2/core.hpp>

#include <string>

namespace ptx::post {

// CV_16U; an 8-bit PNG is accepted with 255 = 1. Anything else is a ptx::core::Error naming the file.
cv::Mat read_probability_map(const std::string& path);

// Writes a CV_32F [0, 1] or CV_16U map as a 16-bit PNG, atomically.
void write_probability_map(const std::string& path, const cv::Mat& probability);

}  // namespace ptx::post

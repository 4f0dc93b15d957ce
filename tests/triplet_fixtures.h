// Probability maps whose best triplet is known, shared by the triplet and threshold-search tests.
#pragma once
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <utility>
#include <vector>

namespace ptx::test {

// Ten 64 x 64 (probability, truth) pairs on a background of 0.35. Negatives (even i) carry a
// 50-pixel region at 0.65 around a 30-pixel blob at 0.95; positives a 64-pixel core at 0.75
// inside a halo at 0.45 that is exactly the truth. On the grid top 0.5:0.9:0.1, area
// {0, 20, 40, 80}, bottom {0.3, 0.4, 0.5} only (0.7, 40, 0.4) scores 1: top 0.6 lets the
// negatives' 80 pixels through, 0.8 loses the positives' core, area 40 lies between 30 and 64,
// bottom 0.3 takes the background and 0.5 loses the halo.
inline std::vector<std::pair<cv::Mat, cv::Mat>> known_best_triplet_maps() {
  std::vector<std::pair<cv::Mat, cv::Mat>> out;
  for (int i = 0; i < 10; ++i) {
    cv::Mat p(64, 64, CV_32F, cv::Scalar(0.35)), truth = cv::Mat::zeros(64, 64, CV_8U);
    if (i % 2) {
      cv::rectangle(truth, cv::Rect(10 + i, 10, 16, 16), 255, cv::FILLED);
      p(cv::Rect(10 + i, 10, 16, 16)).setTo(0.45);
      p(cv::Rect(12 + i, 12, 8, 8)).setTo(0.75);
    } else {
      p(cv::Rect(40, 40, 16, 5)).setTo(0.65);
      p(cv::Rect(40, 40, 6, 5)).setTo(0.95);
    }
    out.emplace_back(p, truth);
  }
  return out;
}

}  // namespace ptx::test

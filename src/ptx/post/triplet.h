// The first-place post-processing, the "triplet": a probability map becomes a mask only when
// enough pixels are confident. Fewer than `area` pixels above `top`: the image is empty;
// otherwise the mask is every pixel above `bottom`, less the connected regions (8-connected)
// smaller than `min_region` pixels. One implementation for training validation, prediction and
// the threshold search.
//
// Probabilities are compared on the 16-bit scale ptx stores them in (q = round(p x 65535), as in
// the probability PNGs), so a search on saved maps and a prediction from the model agree exactly:
// a pixel is above threshold t when q > t x 65535.
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

namespace ptx::post {

struct Triplet {
  double top = 0.5;        // score a pixel must exceed to count toward `area`
  int64_t area = 0;        // pixels above `top` needed for a non-empty mask
  double bottom = 0.5;     // score a pixel must exceed to be in the mask
  int64_t min_region = 0;  // connected regions smaller than this are dropped (0: keep all)

  // "top,area,bottom" or "top,area,bottom,min_region"; throws ptx::core::Error naming `what`.
  static Triplet parse(const std::string& text, const std::string& what = "--triplet");
  std::string str() const;  // the same form
};

// A probability map as 16-bit quantised scores: CV_32F in [0, 1] (clamped) is rounded to
// p x 65535; CV_16U is returned as is. Other types throw ptx::core::Error.
cv::Mat quantize_probability(const cv::Mat& probability);

// The quantised value a pixel must exceed for threshold t in [0, 1]: q > threshold_level(t).
int threshold_level(double t);

// The mask (CV_8U, 0/255) of a probability map (CV_32F or CV_16U, see quantize_probability).
cv::Mat apply_triplet(const cv::Mat& probability, const Triplet& triplet);

// `mask` (CV_8U, nonzero = in) without its 8-connected regions of fewer than min_region pixels.
cv::Mat remove_small_regions(const cv::Mat& mask, int64_t min_region);

}  // namespace ptx::post

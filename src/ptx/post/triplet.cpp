#include "ptx/post/triplet.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "ptx/core/error.h"

namespace ptx::post {

Triplet Triplet::parse(const std::string& text, const std::string& what) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ',');) parts.push_back(p);
  const auto bad = [&](const std::string& why) {
    return core::Error(what + " '" + text + "': " + why +
                       "; expected top,area,bottom[,min_region], e.g. 0.75,2000,0.4");
  };
  if (parts.size() != 3 && parts.size() != 4) throw bad("wrong number of values");
  const auto number = [&](const std::string& s, const char* name) {
    try {
      size_t used = 0;
      const double v = std::stod(s, &used);
      if (used != s.size() || !std::isfinite(v)) throw bad(std::string(name) + " is not a number");
      return v;
    } catch (const std::logic_error&) {
      throw bad(std::string(name) + " is not a number");
    }
  };
  Triplet t;
  t.top = number(parts[0], "top");
  const double area = number(parts[1], "area");
  t.bottom = number(parts[2], "bottom");
  const double min_region = parts.size() == 4 ? number(parts[3], "min_region") : 0.0;
  if (t.top < 0 || t.top > 1 || t.bottom < 0 || t.bottom > 1) throw bad("top and bottom must be in [0, 1]");
  if (area < 0 || area != std::floor(area)) throw bad("area must be a whole number >= 0");
  if (min_region < 0 || min_region != std::floor(min_region)) throw bad("min_region must be a whole number >= 0");
  t.area = static_cast<int64_t>(area);
  t.min_region = static_cast<int64_t>(min_region);
  return t;
}

std::string Triplet::str() const {
  char buf[96];
  if (min_region > 0)
    std::snprintf(buf, sizeof(buf), "%g,%lld,%g,%lld", top, static_cast<long long>(area), bottom,
                  static_cast<long long>(min_region));
  else
    std::snprintf(buf, sizeof(buf), "%g,%lld,%g", top, static_cast<long long>(area), bottom);
  return buf;
}

cv::Mat quantize_probability(const cv::Mat& probability) {
  if (probability.channels() != 1) throw core::Error("probability map: expected one channel");
  if (probability.type() == CV_16UC1) return probability;
  if (probability.type() != CV_32FC1) throw core::Error("probability map: expected 32-bit float or 16-bit values");
  cv::Mat q;
  probability.convertTo(q, CV_16U, 65535.0);  // rounds and saturates to [0, 65535]
  return q;
}

int threshold_level(double t) { return static_cast<int>(std::floor(t * 65535.0)); }

cv::Mat remove_small_regions(const cv::Mat& mask, int64_t min_region) {
  if (min_region <= 0) return mask;
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  std::vector<uint8_t> keep(static_cast<size_t>(n), 0);
  for (int i = 1; i < n; ++i) keep[static_cast<size_t>(i)] = stats.at<int>(i, cv::CC_STAT_AREA) >= min_region ? 255 : 0;
  cv::Mat out(mask.size(), CV_8U);
  for (int r = 0; r < mask.rows; ++r) {
    const int* l = labels.ptr<int>(r);
    uint8_t* o = out.ptr<uint8_t>(r);
    for (int c = 0; c < mask.cols; ++c) o[c] = keep[static_cast<size_t>(l[c])];
  }
  return out;
}

cv::Mat apply_triplet(const cv::Mat& probability, const Triplet& triplet) {
  const cv::Mat q = quantize_probability(probability);
  cv::Mat above_top;
  cv::compare(q, threshold_level(triplet.top), above_top, cv::CMP_GT);
  if (cv::countNonZero(above_top) < triplet.area) return cv::Mat::zeros(q.size(), CV_8U);
  cv::Mat mask;
  cv::compare(q, threshold_level(triplet.bottom), mask, cv::CMP_GT);
  return remove_small_regions(mask, triplet.min_region);
}

}  // namespace ptx::post

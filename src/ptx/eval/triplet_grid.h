// The challenge metric for every triplet of a grid at once, streaming over images: the training
// validation and `ptx thresholds search` both use it. Each image is measured once (histograms of
// its quantised probabilities over all pixels and over the truth's pixels), and every grid point
// is scored from those counts, not by thresholding the map again per point; only a min_region
// axis needs one connected-component pass per (bottom, min_region) pair. Memory does not grow
// with the number of images.
#pragma once
#include <opencv2/core.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ptx/eval/metrics.h"
#include "ptx/post/triplet.h"

namespace ptx::eval {

struct TripletGrid {
  std::vector<double> top{0.5};
  std::vector<int64_t> area{0};
  std::vector<double> bottom{0.5};
  std::vector<int64_t> min_region{0};

  // Points in the order top, area, bottom, min_region (the last varies fastest).
  std::size_t size() const { return top.size() * area.size() * bottom.size() * min_region.size(); }
  post::Triplet at(std::size_t index) const;

  // Values of one axis: "start:stop:step" (stop included when the steps reach it, to 1e-9) or a
  // comma list "0.6,0.75". Throws ptx::core::Error naming `what` (e.g. "top") on bad text.
  static std::vector<double> parse_values(const std::string& text, const std::string& what);
  // Checks ranges (scores in [0, 1], areas whole and >= 0, no axis empty); throws naming the axis.
  void validate() const;
};

class TripletGridScorer {
 public:
  explicit TripletGridScorer(TripletGrid grid);

  // What one image contributes to every grid point; made without the lock (call measure() from
  // several threads, then add() the results).
  struct ImageCounts {
    int64_t truth = 0;
    std::vector<int64_t> above_top;  // per top value: pixels above it
    std::vector<int64_t> predicted;  // per (bottom, min_region): mask pixels
    std::vector<int64_t> overlap;    // per (bottom, min_region): mask pixels in the truth
  };
  ImageCounts measure(const cv::Mat& probability, const cv::Mat& truth) const;
  void add(const ImageCounts& counts);
  // measure() then add(); thread-safe.
  void add(const cv::Mat& probability, const cv::Mat& truth) { add(measure(probability, truth)); }

  const TripletGrid& grid() const { return grid_; }
  std::size_t images() const;
  // One summary per grid point, in the grid's order.
  std::vector<DiceSummary> summaries() const;
  // The point with the highest metric (the first such point on ties).
  std::size_t best_index() const;
  void reset();

 private:
  TripletGrid grid_;
  mutable std::mutex mutex_;
  std::vector<DiceAccumulator> points_;
  std::size_t images_ = 0;
};

}  // namespace ptx::eval

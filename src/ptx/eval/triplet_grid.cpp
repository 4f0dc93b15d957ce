#include "ptx/eval/triplet_grid.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <sstream>

#include "ptx/core/error.h"

namespace ptx::eval {

post::Triplet TripletGrid::at(std::size_t index) const {
  post::Triplet t;
  t.min_region = min_region[index % min_region.size()];
  index /= min_region.size();
  t.bottom = bottom[index % bottom.size()];
  index /= bottom.size();
  t.area = area[index % area.size()];
  index /= area.size();
  t.top = top[index];
  return t;
}

std::vector<double> TripletGrid::parse_values(const std::string& text, const std::string& what) {
  const auto bad = [&](const std::string& why) {
    return core::Error(what + " '" + text + "': " + why + "; give start:stop:step (e.g. 0.5:0.8:0.05) or a list (0.6,0.75)");
  };
  const auto number = [&](const std::string& s) {
    try {
      size_t used = 0;
      const double v = std::stod(s, &used);
      if (used == s.size() && std::isfinite(v)) return v;
    } catch (const std::logic_error&) {
    }
    throw bad("'" + s + "' is not a number");
  };
  std::vector<double> values;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
    if (parts.size() != 3) throw bad("a range needs three parts");
    const double start = number(parts[0]), stop = number(parts[1]), step = number(parts[2]);
    if (!(step > 0)) throw bad("the step must be > 0");
    if (stop < start) throw bad("stop is below start");
    const auto count = static_cast<int64_t>(std::floor((stop - start) / step + 1e-9)) + 1;
    if (count > 100000) throw bad("more than 100000 values");
    for (int64_t i = 0; i < count; ++i) values.push_back(start + static_cast<double>(i) * step);
  } else {
    std::stringstream in(text);
    for (std::string p; std::getline(in, p, ',');) values.push_back(number(p));
  }
  if (values.empty()) throw bad("no values");
  return values;
}

void TripletGrid::validate() const {
  const auto scores = [](const std::vector<double>& v, const char* name) {
    if (v.empty()) throw core::Error(std::string("triplet grid: no ") + name + " values");
    for (double x : v)
      if (!(x >= 0 && x <= 1)) throw core::Error(std::string("triplet grid: ") + name + " values must be in [0, 1], got " + std::to_string(x));
  };
  const auto counts = [](const std::vector<int64_t>& v, const char* name) {
    if (v.empty()) throw core::Error(std::string("triplet grid: no ") + name + " values");
    for (int64_t x : v)
      if (x < 0) throw core::Error(std::string("triplet grid: ") + name + " values must be >= 0, got " + std::to_string(x));
  };
  scores(top, "top");
  scores(bottom, "bottom");
  counts(area, "area");
  counts(min_region, "min_region");
}

TripletGridScorer::TripletGridScorer(TripletGrid grid) : grid_(std::move(grid)) {
  grid_.validate();
  points_.resize(grid_.size());
}

TripletGridScorer::ImageCounts TripletGridScorer::measure(const cv::Mat& probability, const cv::Mat& truth) const {
  const cv::Mat q = post::quantize_probability(probability);
  if (truth.size() != q.size() || truth.type() != CV_8UC1)
    throw core::Error("triplet grid: the truth mask must be 8-bit and the probability map's size");
  // above[L] = pixels with q > L, from histograms of q over all pixels and over the truth.
  std::vector<int64_t> all(65537, 0), in_truth(65537, 0);
  for (int r = 0; r < q.rows; ++r) {
    const uint16_t* p = q.ptr<uint16_t>(r);
    const uint8_t* t = truth.ptr<uint8_t>(r);
    for (int c = 0; c < q.cols; ++c) {
      ++all[p[c]];
      if (t[c]) ++in_truth[p[c]];
    }
  }
  ImageCounts out;
  for (int v = 65535; v >= 0; --v) {  // suffix sums: all[v] = pixels with q >= v
    all[v] += all[v + 1];
    in_truth[v] += in_truth[v + 1];
  }
  out.truth = in_truth[0];
  const auto above = [](const std::vector<int64_t>& h, double t) { return h[post::threshold_level(t) + 1]; };
  for (double t : grid_.top) out.above_top.push_back(above(all, t));
  for (double b : grid_.bottom) {
    for (int64_t m : grid_.min_region) {
      if (m == 0) {
        out.predicted.push_back(above(all, b));
        out.overlap.push_back(above(in_truth, b));
        continue;
      }
      cv::Mat mask;
      cv::compare(q, post::threshold_level(b), mask, cv::CMP_GT);
      mask = post::remove_small_regions(mask, m);
      cv::Mat both;
      cv::bitwise_and(mask, truth, both);
      out.predicted.push_back(cv::countNonZero(mask));
      out.overlap.push_back(cv::countNonZero(both));
    }
  }
  return out;
}

void TripletGridScorer::add(const ImageCounts& counts) {
  const std::size_t tops = grid_.top.size(), areas = grid_.area.size(), masks = grid_.bottom.size() * grid_.min_region.size();
  if (counts.above_top.size() != tops || counts.predicted.size() != masks || counts.overlap.size() != masks)
    throw core::Error("triplet grid: counts measured for another grid");
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t i = 0;
  for (std::size_t t = 0; t < tops; ++t)
    for (std::size_t a = 0; a < areas; ++a) {
      const bool empty = counts.above_top[t] < grid_.area[a];
      for (std::size_t m = 0; m < masks; ++m, ++i)
        points_[i].add(counts.truth, empty ? 0 : counts.predicted[m], empty ? 0 : counts.overlap[m]);
    }
  ++images_;
}

std::size_t TripletGridScorer::images() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return images_;
}

std::vector<DiceSummary> TripletGridScorer::summaries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DiceSummary> out;
  out.reserve(points_.size());
  for (const auto& p : points_) out.push_back(p.aggregate());
  return out;
}

std::size_t TripletGridScorer::best_index() const {
  const auto s = summaries();
  std::size_t best = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (s[i].dice > s[best].dice) best = i;
  return best;
}

void TripletGridScorer::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& p : points_) p.reset();
  images_ = 0;
}

}  // namespace ptx::eval

// `ptx thresholds search`: the challenge metric on saved validation probability maps for every
// triplet of a grid (see triplet_grid.h), the best triplet, a CSV of all points and a heat map.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ptx/eval/triplet_grid.h"

namespace ptx::eval {

struct ThresholdSearchOptions {
  std::string probabilities;  // folder of <ImageId>.png probability maps (16-bit, or 8-bit scaled to 1)
  std::string truth;          // label CSV (SIIM RLE) at the maps' geometry
  TripletGrid grid;
  std::string out;            // folder for thresholds.csv, best.json and heatmap.png
  int threads = 1;
  bool progress = false;
};

struct ThresholdSearchResult {
  std::size_t images = 0;
  std::size_t maps_without_truth = 0;  // ignored
  std::vector<DiceSummary> points;     // in the grid's order
  std::size_t best = 0;
  double seconds = 0;
};

// Every truth ImageId needs a map (missing ones are an Error listing the first few); maps of
// images absent from the truth are counted and ignored. Writes the three outputs atomically.
ThresholdSearchResult search_thresholds(const ThresholdSearchOptions& options);

// The PNG heat map of the metric against top (rows) and area (columns), each cell the best over
// the other axes, with its value written in it.
void write_threshold_heatmap(const std::string& path, const TripletGrid& grid, const std::vector<DiceSummary>& points);

}  // namespace ptx::eval

#include "ptx/eval/threshold_search.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/core/parallel.h"
#include "ptx/core/progress.h"
#include "ptx/io/csv.h"
#include "ptx/io/image.h"
#include "ptx/io/label_csv.h"
#include "ptx/post/probability_map.h"

namespace fs = std::filesystem;

namespace ptx::eval {

ThresholdSearchResult search_thresholds(const ThresholdSearchOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!fs::is_directory(o.probabilities)) throw core::Error(o.probabilities + ": not a folder of probability maps");
  const io::LabelSet truth = io::read_label_csv(o.truth);
  ThresholdSearchResult result;

  // ImageIds come from the truth file; a map is looked up by name, never built from file names.
  std::vector<const io::ImageLabels*> images;
  std::vector<std::string> missing;
  for (const auto& img : truth.images) {
    if (fs::is_regular_file(fs::path(o.probabilities) / (img.image_id + ".png")))
      images.push_back(&img);
    else
      missing.push_back(img.image_id);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 3; ++i) list += (i ? ", " : "") + missing[i];
    throw core::Error(o.probabilities + ": no probability map for " + std::to_string(missing.size()) + " of " +
                      std::to_string(truth.images.size()) + " ImageIds of " + o.truth + " (" + list +
                      "); predict every validation image with --save-probabilities");
  }
  for (const auto& e : fs::directory_iterator(o.probabilities))
    if (e.path().extension() == ".png" && !truth.find(e.path().stem().string())) ++result.maps_without_truth;

  TripletGridScorer scorer(o.grid);
  core::ProgressBar bar("thresholds", images.size());
  bar.set_enabled(o.progress);
  core::parallel_for(images.size(), o.threads, [&](std::size_t i) {
    const auto& img = *images[i];
    const cv::Mat p = post::read_probability_map((fs::path(o.probabilities) / (img.image_id + ".png")).string());
    scorer.add(scorer.measure(p, truth.mask(img, p.cols, p.rows)));
    bar.tick();
  });
  bar.finish();
  result.images = images.size();
  result.points = scorer.summaries();
  result.best = scorer.best_index();

  fs::create_directories(o.out);
  io::CsvWriter csv((fs::path(o.out) / "thresholds.csv").string(),
                    {"top", "area", "bottom", "min_region", "dice", "dice_on_positives", "true_positives",
                     "false_positives", "true_negatives", "false_negatives"});
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    const auto t = o.grid.at(i);
    const auto& s = result.points[i];
    csv.row({core::fixed(t.top, 4), std::to_string(t.area), core::fixed(t.bottom, 4), std::to_string(t.min_region), core::fixed(s.dice, 6),
             core::fixed(s.dice_on_positives, 6), std::to_string(s.true_positives), std::to_string(s.false_positives),
             std::to_string(s.true_negatives), std::to_string(s.false_negatives)});
  }
  csv.commit();
  const auto best = o.grid.at(result.best);
  const auto& bs = result.points[result.best];
  core::write_file_atomic(fs::path(o.out) / "best.json",
                          nlohmann::json{{"triplet", best.str()},
                                         {"top", best.top},
                                         {"area", best.area},
                                         {"bottom", best.bottom},
                                         {"min_region", best.min_region},
                                         {"dice", bs.dice},
                                         {"dice_on_positives", bs.dice_on_positives},
                                         {"images", result.images},
                                         {"grid_points", result.points.size()}}
                                  .dump(2) + "\n");
  write_threshold_heatmap((fs::path(o.out) / "heatmap.png").string(), o.grid, result.points);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void write_threshold_heatmap(const std::string& path, const TripletGrid& grid, const std::vector<DiceSummary>& points) {
  const int rows = static_cast<int>(grid.top.size()), cols = static_cast<int>(grid.area.size());
  cv::Mat best(rows, cols, CV_64F, cv::Scalar(0));
  const std::size_t per_cell = grid.bottom.size() * grid.min_region.size();
  for (std::size_t i = 0; i < points.size(); ++i) {
    const int r = static_cast<int>(i / per_cell / grid.area.size()), c = static_cast<int>(i / per_cell % grid.area.size());
    best.at<double>(r, c) = std::max(best.at<double>(r, c), points[i].dice);
  }
  double lo = 0, hi = 1;
  cv::minMaxLoc(best, &lo, &hi);
  const int cw = 64, ch = 28, left = 70, top = 40;
  cv::Mat img(top + rows * ch + 10, left + cols * cw + 10, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto text = [&](const std::string& s, cv::Point at, double scale, cv::Scalar colour) {
    cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
  };
  text("area ->", {left, 14}, 0.45, {0, 0, 0});
  text("top", {8, 14}, 0.45, {0, 0, 0});
  for (int c = 0; c < cols; ++c) text(std::to_string(grid.area[c]), {left + c * cw + 4, top - 8}, 0.4, {0, 0, 0});
  for (int r = 0; r < rows; ++r) {
    text(core::fixed(grid.top[r], 2), {8, top + r * ch + 19}, 0.4, {0, 0, 0});
    for (int c = 0; c < cols; ++c) {
      const double v = best.at<double>(r, c);
      cv::Mat level(1, 1, CV_8U, cv::Scalar(hi > lo ? (v - lo) / (hi - lo) * 255.0 : 255.0)), colour;
      cv::applyColorMap(level, colour, cv::COLORMAP_VIRIDIS);
      const cv::Rect cell(left + c * cw, top + r * ch, cw, ch);
      cv::rectangle(img, cell, cv::Scalar(colour.at<cv::Vec3b>(0)), cv::FILLED);
      text(core::fixed(v, 3), {cell.x + 8, cell.y + 19}, 0.42, v > (lo + hi) / 2 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255));
    }
  }
  std::vector<uchar> png;
  cv::imencode(".png", img, png);
  core::write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

}  // namespace ptx::eval

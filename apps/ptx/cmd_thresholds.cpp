// ptx thresholds search: the best triplet for saved validation probability maps.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/eval/threshold_search.h"

namespace ptx::app {

namespace {

struct ThresholdArgs {
  eval::ThresholdSearchOptions options;
  std::vector<std::string> grid{"top=0.5:0.8:0.05", "area=0:3000:250", "bottom=0.2:0.5:0.05"};
};

// "top=0.5:0.8:0.05" and the like into the grid; anything else is a usage error naming the fix.
eval::TripletGrid parse_grid(const std::vector<std::string>& items) {
  eval::TripletGrid grid;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || !(key == "top" || key == "area" || key == "bottom" || key == "min_region"))
      throw core::UsageError("--grid '" + item + "': expected top=, area=, bottom= or min_region= followed by "
                             "start:stop:step or a list, e.g. --grid top=0.5:0.8:0.05 area=0:3000:250");
    const auto values = eval::TripletGrid::parse_values(item.substr(eq + 1), "--grid " + key);
    if (key == "top" || key == "bottom") {
      (key == "top" ? grid.top : grid.bottom) = values;
    } else {
      auto& axis = key == "area" ? grid.area : grid.min_region;
      axis.clear();
      for (double v : values) {
        if (v != static_cast<double>(static_cast<int64_t>(v)))
          throw core::UsageError("--grid " + key + ": values must be whole pixel counts, got " + std::to_string(v));
        axis.push_back(static_cast<int64_t>(v));
      }
    }
  }
  grid.validate();
  return grid;
}

}  // namespace

void add_thresholds(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("thresholds", "Post-processing thresholds: search the best triplet on validation");
  cmd->require_subcommand(1);
  auto a = std::make_shared<ThresholdArgs>();
  auto* search = cmd->add_subcommand(
      "search", "Score every (top, area, bottom) triplet of a grid on saved probability maps with the challenge metric");
  search->add_option("--probabilities", a->options.probabilities, "folder of <ImageId>.png probability maps (16-bit)")
      ->required()
      ->check(CLI::ExistingDirectory);
  search->add_option("--truth", a->options.truth, "label CSV of the same images (SIIM RLE)")->required()->check(CLI::ExistingFile);
  search->add_option("--grid", a->grid, "axes as key=start:stop:step or key=a,b,c (keys: top, area, bottom, min_region)")
      ->capture_default_str()
      ->expected(1, 4);
  search->add_option("--out", a->options.out, "folder for thresholds.csv, best.json and heatmap.png")->required();
  search->callback([a, &g] {
    a->options.grid = parse_grid(a->grid);
    a->options.threads = g.threads;
    a->options.progress = !g.quiet;
    const auto r = eval::search_thresholds(a->options);
    const auto best = a->options.grid.at(r.best);
    const auto& s = r.points[r.best];
    if (g.json) {
      std::cout << nlohmann::json{{"triplet", best.str()}, {"dice", s.dice}, {"images", r.images},
                                  {"grid_points", r.points.size()}, {"seconds", r.seconds},
                                  {"maps_without_truth", r.maps_without_truth}, {"out", a->options.out}}
                       .dump()
                << "\n";
      return;
    }
    std::printf("%zu images x %zu triplets in %.2f s\nbest triplet %s: Dice %.4f (on positives %.4f; images: "
                "%zu TP, %zu FP, %zu TN, %zu FN)\nwritten: %s/thresholds.csv, best.json, heatmap.png\n",
                r.images, r.points.size(), r.seconds, best.str().c_str(), s.dice, s.dice_on_positives,
                s.true_positives, s.false_positives, s.true_negatives, s.false_negatives, a->options.out.c_str());
    if (r.maps_without_truth) std::printf("%zu maps had no truth row and were ignored\n", r.maps_without_truth);
  });
}

}  // namespace ptx::app

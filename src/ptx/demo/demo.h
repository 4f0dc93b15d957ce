// `ptx demo`: the whole story on synthetic data in one call, for a first-time user with no data
// of their own. Synthesises a challenge-style data set and a held-out test set (data/synth.h),
// converts the training set, trains configs/demo.yaml (compiled into ptx) within the time budget,
// searches the post-processing triplet on the validation fold's probability maps, predicts the
// test set (and real radiographs: ../shared/data/siim-sample when present, or the given folders),
// scores it with the challenge metric, writes the submission CSV, and builds report.html.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptx::demo {

struct DemoOptions {
  std::string out = "runs/demo";
  double minutes = 10;     // budget for everything; training gets what the other steps leave
  uint64_t seed = 1;
  int train_images = 400;  // synthetic training set (a fifth of it validates)
  int test_images = 100;   // synthetic held-out test set
  int size = 256;          // synthetic radiographs are size x size
  std::vector<std::string> overrides;  // `--set key=value` on the demo's training configuration
  // Folders of real DICOMs to predict as well; a single CSV of labels inside a folder is its truth.
  std::vector<std::string> extra;
  torch::Device device = torch::kCPU;
  int threads = 1;
  bool progress = true;
};

struct DemoSummary {
  std::string report;      // <out>/report.html
  std::string submission;  // <out>/submission.csv
  double test_dice = 0, validation_dice = 0;
  std::string triplet;     // the searched triplet
  double seconds = 0;
};

// Throws core::Error (or UsageError for bad options) naming the step that failed.
DemoSummary run_demo(const DemoOptions& options);

// The real radiographs the demo shows by default: <shared>/siim-sample, where <shared> is
// $PTX_SHARED_DATA or ../shared/data (from the working folder); "" when absent.
std::string default_extra_folder();

}  // namespace ptx::demo

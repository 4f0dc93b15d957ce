// The model options `ptx predict`, `ptx serve` and `ptx node` share: segmentation checkpoints (or a
// blend file, or a model bundle), classifiers with their gate, the triplet, TTA, input size and
// device; and loading them.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "ptx/export/bundle.h"
#include "ptx/predict/ensemble.h"
#include "ptx/predict/predict_image.h"

namespace ptx::app {

struct ModelArgs {
  std::string blend, bundle;
  std::vector<std::string> checkpoints, classifiers;
  std::vector<double> weights;
  std::string tta = "hflip", triplet, device = "cpu", precision = "fp32";
  double gate = 0.5;
  int size = 0;
  // Set by add_model_options: whether --gate and --tta were given, which then win over a bundle's.
  const CLI::Option *gate_option = nullptr, *tta_option = nullptr;
};

void add_model_options(CLI::App& cmd, ModelArgs& a);

struct LoadedModels {
  predict::Ensemble segmenter, classifier;
  predict::ImagePredictionOptions image;  // TTA, triplet (--triplet, the blend's or bundle's, else the checkpoint's), gate
  // A --bundle's checkpoints, extracted: kept while the models are in use (ptx serve hashes them).
  std::shared_ptr<const exports::ExtractedBundle> bundle;
};

// Reads the blend file (adding to the lists) or the bundle (verifying its hashes, filling the lists
// and the settings not given on the command line), loads the ensembles on --device and resolves the
// options. Usage errors (no checkpoint, a non-classifier --classifier, a bad triplet) are UsageError.
LoadedModels load_models(ModelArgs& a);

}  // namespace ptx::app

// The model options `ptx predict` and `ptx serve` share: segmentation checkpoints (or a blend
// file), classifiers with their gate, the triplet, TTA, input size and device; and loading them.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "ptx/predict/ensemble.h"
#include "ptx/predict/predict_image.h"

namespace ptx::app {

struct ModelArgs {
  std::string blend;
  std::vector<std::string> checkpoints, classifiers;
  std::vector<double> weights;
  std::string tta = "hflip", triplet, device = "cpu", precision = "fp32";
  double gate = 0.5;
  int size = 0;
};

void add_model_options(CLI::App& cmd, ModelArgs& a);

struct LoadedModels {
  predict::Ensemble segmenter, classifier;
  predict::ImagePredictionOptions image;  // TTA, triplet (--triplet, the blend's, else the checkpoint's), gate
};

// Reads the blend file (adding to the lists), loads the ensembles on --device and resolves the
// options. Usage errors (no checkpoint, a non-classifier --classifier, a bad triplet) are UsageError.
LoadedModels load_models(ModelArgs& a);

}  // namespace ptx::app

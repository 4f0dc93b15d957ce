// The typed training configuration: every key of a training YAML (after `--set` overrides and
// `parts` expansion, see config_file.h) with its type and default, checked before training starts.
// The README's "Training configuration" section lists the same keys.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptx/eval/triplet_grid.h"
#include "ptx/models/registry.h"

namespace ptx::train {

struct DataConfig {
  std::string index;                 // the converted set's index.csv (relative: to the config file)
  int fold = 0;                      // validation fold; the others train. -1: train on all, no validation
  int size = 256;                    // images and masks resized to size x size
  int channels = 3;                  // 1, or 3 (grey replicated; must equal model.in_channels)
  std::string normalize = "imagenet";  // none | imagenet
  std::string labels;                // classifiers: multi-label CSV (NIH "Image Index,Finding Labels")
  int workers = 2;                   // loader threads
  int limit = 0;                     // > 0: only the first `limit` rows of each split (smoke runs, tests)
};

struct TrainConfig {
  DataConfig data;
  models::ModelSpec model;
  std::string pretrained;            // weights imported before training (ImageNet, smp, ptx); "" none
  YAML::Node sampler;                // data::sampler_options_from_yaml
  YAML::Node augment;                // data::Pipeline::from_yaml
  nlohmann::json loss, optimizer, scheduler;  // train::make_loss, make_optimizer, make_scheduler
  int epochs = 10;
  int batch_size = 4;
  int accumulate = 1;                // micro-batches per optimiser step
  double clip_grad_norm = 0;         // 0: no clipping
  int patience = 0;                  // early_stopping.patience: epochs without improvement (0: off)
  int top_k = 3;                     // best checkpoints kept (plus last.ckpt)
  eval::TripletGrid triplets;        // validation.triplets: the grid scored every epoch
  bool validate_on_train = false;    // validation.on_train: score the training rows (overfitting checks)
  int swa_start = -1;                // swa.start_epoch (-1: off)
  int swa_every = 1;
  bool snapshots = false;            // keep a checkpoint at every cosine-restart cycle end
  double aux_weight = 0.4;           // weight of the auxiliary head's BCE (model.aux_head)
  // Batch-norm layers stay in eval mode while training: normalised by their running statistics,
  // which stay as loaded (pretrained); their scale and shift still train. Small batches; and a
  // sample's gradient then does not depend on its batch (distributed runs equal one process).
  bool freeze_batch_norm = false;
  std::string output = "runs/train"; // checkpoints and logs
  uint64_t seed = 42;
  double minutes = 0;                // time budget: no epoch starts that would end past it (0: none)
  std::string precision = "fp32";    // fp32 | bf16: mixed precision of the forward pass (mixed_precision.h)

  bool classifier() const { return model.arch == "classifier"; }
};

// Reads and checks one run's configuration (`where` prefixes error key paths, e.g. "parts[1]").
// Relative paths (data.index, data.labels, pretrained, output) resolve against config_dir, the
// configuration file's folder. Every unknown key or bad value is a
// ptx::core::Error naming its key path and the valid choices.
TrainConfig parse_train_config(const YAML::Node& node, const std::string& config_dir, const std::string& where = "");

// A YAML subtree as JSON (scalars become booleans, integers, numbers or strings as they read).
nlohmann::json yaml_to_json(const YAML::Node& node);

}  // namespace ptx::train

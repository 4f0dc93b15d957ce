// `ptx train`: one run of a training configuration (one part of a chained config) from the
// converted data set to checkpoints and logs.
//
// Each epoch: the sampler's list of training samples, loaded and augmented by the threaded
// loader, forward and loss (plus the auxiliary head's BCE), gradient accumulation and clipping,
// the optimiser step and the schedule's learning rate; then validation streaming over the
// validation fold: loss, and the challenge metric for every triplet of the configured grid
// (classifiers: AUC, accuracy, F1). The score (best grid Dice, or AUC) drives the top-k
// checkpoints, the plateau schedule and early stopping. Written into the output folder, each
// atomically: last.ckpt (with the whole training state, for --resume), epoch-NNN.ckpt for the top
// k, best.ckpt, snapshot-NN.ckpt at cosine-restart cycle ends, swa.ckpt, history.csv,
// history.json and curves.png.
//
// Debugging: with the environment variable PTX_DEBUG_WEIGHTS_OUT set, every process writes its
// model's final weights (before SWA) there as a checkpoint; the distributed test compares them.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ptx/post/triplet.h"
#include "ptx/train/distributed.h"
#include "ptx/train/train_config.h"

namespace ptx::train {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double lr = 0, train_loss = 0, valid_loss = 0;
  double score = 0;              // best grid Dice (segmentation) or mean AUC (classifier)
  post::Triplet triplet;         // the grid's best point (segmentation)
  std::map<std::string, double> metrics;  // dice_on_positives, accuracy, f1, auc_<class>, ...
  double seconds = 0, images_per_s = 0;
};

struct TrainOptions {
  torch::Device device = torch::kCPU;
  bool resume = false;         // continue from <output>/last.ckpt
  bool progress = true;        // progress bars on a terminal
  std::string init_checkpoint; // weights to start from (a chained part's predecessor's best)
  // Data-parallel training (distributed.h); null: one process. Each rank trains on its shard of
  // every epoch with batch_size samples per step (the effective batch is world x batch_size),
  // gradients averaged over the ranks. Rank 0 alone validates, writes checkpoints and logs and
  // reports; the other ranks receive its results. --resume needs the output folder readable by
  // every rank (a shared file system); pretrained and init_checkpoint are read by rank 0 only.
  DistributedContext* distributed = nullptr;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_score = 0;
  post::Triplet best_triplet;
  std::string best_checkpoint, last_checkpoint;
  std::string stop_reason;  // "epochs", "early stopping", "time budget"
};

TrainResult train_model(const TrainConfig& config, const TrainOptions& options);

}  // namespace ptx::train

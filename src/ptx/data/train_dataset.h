// The converted data set as tensors for training and validation: the rows of index.csv in the
// chosen folds, their PNG image and mask read and resized, augmented (training only), normalised
// and returned as float tensors, with the binary label and optional multi-label targets.
#pragma once
#include <torch/types.h>

#include <cstddef>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "ptx/data/image_tensor.h"
#include "ptx/data/index_csv.h"

namespace ptx::data {

class Pipeline;
struct MultiLabelTable;
struct Sample;

enum class Split { train, valid };

// The labelled rows of `fold` (valid) or of every other fold (train). fold < 0 with Split::train:
// every labelled row (training on everything). Test rows (fold -1) are never selected.
std::vector<IndexRow> fold_rows(const std::vector<IndexRow>& rows, int fold, Split split);

struct DatasetOptions {
  int size = 0;      // images and masks resized to size x size (area interpolation down); 0 = as stored
  int channels = 1;  // 1, or 3 (grey replicated)
  Normalization normalize = Normalization::none;
  bool masks = true;  // false: mask files are neither checked nor read (classification); masks are zeros
};

struct Example {
  torch::Tensor image;   // float32, channels x H x W
  torch::Tensor mask;    // float32, 1 x H x W, values 0 and 1 (zeros for rows without a mask)
  float label = 0;       // 1 positive, 0 negative, -1 unknown (from index.csv)
  torch::Tensor target;  // float32, one 0/1 per class when multi-label targets are set
};

class TrainDataset {
 public:
  // root: the folder holding index.csv (row paths are relative to it).
  TrainDataset(std::string root, std::vector<IndexRow> rows, DatasetOptions options);

  // Classification targets for every row; throws core::Error naming the first ImageIds that the
  // table lacks.
  void set_targets(const MultiLabelTable& table);
  const std::vector<std::string>& classes() const { return classes_; }

  std::size_t size() const { return rows_.size(); }
  const IndexRow& row(std::size_t i) const { return rows_.at(i); }
  const std::string& root() const { return root_; }
  const DatasetOptions& options() const { return options_; }
  // Per-row labels for the sampler: 1 positive, 0 otherwise.
  std::vector<int> labels() const;

  // Every image and mask file that does not exist (full paths), to report before training.
  std::vector<std::string> check_files() const;

  // Image (CV_8UC1) and mask (CV_8UC1 0/255) of row i at the configured size, not augmented.
  Sample load(std::size_t i) const;
  // load(i), augmented by `augment` when given (randomize + apply with its current generator),
  // then as tensors. Errors are core::Error naming the file.
  Example get(std::size_t i, Pipeline* augment = nullptr) const;
  // An (augmented) sample as tensors: normalised image, 0/1 mask.
  Example to_example(const Sample& sample, std::size_t i) const;

 private:
  std::string path_of(const std::string& relative) const;

  std::string root_;
  std::vector<IndexRow> rows_;
  DatasetOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::vector<float>> targets_;  // per row, when set
};

}  // namespace ptx::data

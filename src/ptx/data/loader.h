// Threaded batch loading with a bounded prefetch queue. Batches come out in exactly the order
// given (the sampler's), whatever the worker count: the sample at position i of the order is
// augmented by the pipeline reseeded with derive_seed(seed, i), so results never depend on which
// thread loaded it or when. A worker's error (unreadable file, bad mask) is rethrown by next() in
// the consumer, naming the file; destroying the loader early stops and joins the workers.
//
// A training epoch (one consumer thread calls next()):
//   const auto rows = data::read_index_csv(root + "/index.csv");
//   data::TrainDataset train(root, data::fold_rows(rows, fold, data::Split::train), options);
//   if (auto missing = train.check_files(); !missing.empty()) ...report them all and stop...
//   data::Sampler sampler(train.labels(), sampler_options);
//   data::Pipeline augment = data::Pipeline::from_yaml(config["augment"]);
//   for (int e = start_epoch; e < epochs; ++e) {
//     auto order = data::shard(sampler.epoch(e), rank, world);  // rank 0 of 1: the whole epoch
//     loader_options.position_offset = rank;                   // seeds by position in the epoch
//     loader_options.position_stride = world;
//     data::Loader loader(train, order, &augment, sampler.epoch_seed(e), loader_options);
//     while (auto batch = loader.next()) ...batch->images, batch->masks, batch->labels...
//   }
// Validation: Loader(valid, all_indices(valid), nullptr, 0, options).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "ptx/data/augment.h"
#include "ptx/data/seed.h"
#include "ptx/data/train_dataset.h"

namespace ptx::data {

struct Batch {
  torch::Tensor images;              // float32 B x C x H x W
  torch::Tensor masks;               // float32 B x 1 x H x W, 0/1
  torch::Tensor labels;              // float32 B (1 positive, 0 negative, -1 unknown)
  torch::Tensor targets;             // float32 B x K with multi-label targets, else undefined
  std::vector<std::size_t> indices;  // dataset indices of the samples
  std::size_t first = 0;             // position of the first sample in the order
};

struct LoaderOptions {
  int batch_size = 8;
  int workers = 2;     // loading threads; 0 = load in the consumer's thread
  int prefetch = 0;    // batches loaded ahead of the consumer; 0 = 2 * max(1, workers)
  bool drop_last = false;
  // Position p of the order is augmented as position position_offset + p * position_stride of a
  // larger order: a distributed rank's shard (offset rank, stride world, see shard()) augments
  // every sample exactly as a single process loading the whole epoch does.
  std::size_t position_offset = 0, position_stride = 1;
};

class Loader {
 public:
  // Loads dataset rows order[0], order[1], ... The dataset must outlive the loader; the
  // pipeline is copied (null or empty = no augmentation, e.g. validation).
  Loader(const TrainDataset& dataset, std::vector<std::size_t> order, const Pipeline* augment, uint64_t seed,
         LoaderOptions options = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch in order, or nullopt after the last. Rethrows a worker's error.
  std::optional<Batch> next();
  std::size_t batches() const { return batches_; }
  // Stops the workers (waits for them); next() then returns nullopt.
  void stop();

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  Batch build(std::size_t b, Pipeline* augment) const;
  void work(Pipeline augment);

  const TrainDataset& dataset_;
  std::vector<std::size_t> order_;
  std::optional<Pipeline> augment_;  // for workers == 0
  uint64_t seed_;
  LoaderOptions options_;
  std::size_t batches_ = 0;
  int prefetch_ = 1;

  std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::map<std::size_t, Slot> ready_;
  std::size_t next_build_ = 0, next_out_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// 0, 1, ..., size - 1: the order for validation.
std::vector<std::size_t> all_indices(const TrainDataset& dataset);

}  // namespace ptx::data

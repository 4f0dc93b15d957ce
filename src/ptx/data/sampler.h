// Which samples each epoch visits, in which order. "sliding" (the SIIM winners' sliding sample
// rate): every positive plus negatives drawn with replacement so that positives make up a
// fraction p of the epoch, p following a per-epoch schedule (e.g. 0.8, 0.6, 0.4);
// "positives_only"; "shuffle" (every sample once). An epoch's list depends only on the seed and
// the epoch number, so a resumed run sees the same epochs. Works for segmentation and
// classification alike: it only needs per-sample positive/negative labels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace ptx::data {

// The fraction of positives in each epoch (0 < p <= 1).
class RateSchedule {
 public:
  static RateSchedule constant(double p);
  // p of the latest step at or before the epoch ({0: 0.8, 10: 0.6, 20: 0.4}); epochs before the
  // first step take its value.
  static RateSchedule steps(const std::map<int, double>& steps);
  // p0 at epoch 0 to p1 at epoch `epochs` - 1, linearly; p1 afterwards.
  static RateSchedule linear(double p0, double p1, int epochs);
  // 0.5 | {0: 0.8, 10: 0.6, 20: 0.4} | {from: 0.8, to: 0.22, epochs: 30}; errors name `path`.
  static RateSchedule from_yaml(const YAML::Node& node, const std::string& path);

  double at(int epoch) const;

 private:
  std::map<int, double> steps_;  // used when epochs_ == 0
  double p0_ = 0.5, p1_ = 0.5;
  int epochs_ = 0;
};

enum class SamplingMode { shuffle, sliding, positives_only };

struct SamplerOptions {
  SamplingMode mode = SamplingMode::shuffle;
  RateSchedule rate = RateSchedule::constant(0.5);  // sliding only
  uint64_t seed = 0;
};

// mode: shuffle|sliding|positives_only, rate: (see RateSchedule), seed: N. Errors name path.key.
SamplerOptions sampler_options_from_yaml(const YAML::Node& node, const std::string& path);

class Sampler {
 public:
  // labels[i] > 0: sample i is positive; 0: negative. Throws core::Error when the mode cannot be
  // satisfied (sliding without positives, or without negatives while p < 1).
  Sampler(std::vector<int> labels, SamplerOptions options);

  // The dataset indices of epoch e (0-based), shuffled. Pure: same seed and epoch, same list.
  std::vector<std::size_t> epoch(int e) const;
  // The seed for everything random in epoch e (the loader's per-sample augmentation).
  uint64_t epoch_seed(int e) const;
  // epoch(current_epoch()), then advances.
  std::vector<std::size_t> next();
  int current_epoch() const { return next_epoch_; }

  // Seed and next epoch, as text; restore() continues from there.
  std::string state() const;
  void restore(const std::string& state);

  std::size_t positives() const { return positives_.size(); }
  std::size_t negatives() const { return negatives_.size(); }
  const SamplerOptions& options() const { return options_; }

 private:
  SamplerOptions options_;
  std::vector<std::size_t> positives_, negatives_;
  int next_epoch_ = 0;
};

// Rank `rank`'s part of an epoch for `world` distributed processes: positions rank, rank + world,
// ... of the list padded by wrapping to a multiple of world, so every rank gets the same number
// of samples, the parts are disjoint by position and together cover the whole epoch.
std::vector<std::size_t> shard(const std::vector<std::size_t>& epoch, int rank, int world);

}  // namespace ptx::data

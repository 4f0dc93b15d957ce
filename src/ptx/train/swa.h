// Stochastic weight averaging (Izmailov et al. 2018), with torch.optim.swa_utils' semantics: an
// equal-weight running average of a model's parameters taken from a start epoch on
// (AveragedModel; buffers are not averaged), written back into a model, whose batch-norm
// statistics are then recomputed with one pass over training batches (update_bn).
//
// What the trainer does:
//   SwaAverage swa(*model);  SwaSchedule when{start_epoch, every};
//   after epoch e: if (when.due(e)) swa.update(*model);
//   at the end:    swa.copy_to(*model); update_batch_norm(*model, batches); evaluate or save.
// To keep training the model meanwhile, copy into a second model built from the same spec
// (models::build_model) instead, and recompute that one's batch norms.
// For resumable training the average travels in checkpoints as state() / load_state().
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ptx::train {

// Epochs (0-based) after which the average takes in the model: start_epoch, start_epoch + every, ...
struct SwaSchedule {
  int64_t start_epoch = 0;
  int64_t every = 1;
  bool due(int64_t epoch) const { return epoch >= start_epoch && (epoch - start_epoch) % every == 0; }
};

struct SwaState {
  std::map<std::string, torch::Tensor> tensors;  // parameter name -> average
  int64_t count = 0;
};

class SwaAverage {
 public:
  // Tracks `model`'s parameters (by name); nothing is averaged until the first update().
  explicit SwaAverage(const torch::nn::Module& model);

  // Takes the model's current parameters into the average: the first update copies them, the
  // n+1-th sets avg += (p - avg) / (n + 1). The average lives on each parameter's device.
  void update(const torch::nn::Module& model);
  int64_t count() const { return count_; }
  // The average of parameter `name` (an Error before the first update or for unknown names).
  const torch::Tensor& average(const std::string& name) const;

  // Copies the average into `model`'s parameters (same names and shapes; its buffers are left
  // alone: recompute batch-norm statistics with update_batch_norm afterwards).
  void copy_to(torch::nn::Module& model) const;

  SwaState state() const;                 // copies
  void load_state(const SwaState& state);  // same names and shapes as the tracked model

 private:
  std::vector<std::string> names_;
  std::map<std::string, torch::Tensor> average_;
  int64_t count_ = 0;
};

// Recomputes every batch-norm's running statistics (BatchNorm1d/2d/3d) as the plain average over
// the batches `run_batches` feeds through the model (swa_utils.update_bn: statistics reset to
// mean 0 / var 1, momentum None meaning a cumulative average, the model in training mode for the
// pass, no gradients). Afterwards each momentum and the model's training mode are restored.
// Does nothing when the model has no batch norm.
void update_batch_norm(torch::nn::Module& model, const std::function<void()>& run_batches);
// The same, feeding `batches` (moved to the model's device) through forward_fn.
void update_batch_norm(torch::nn::Module& model, const std::vector<torch::Tensor>& batches,
                       const std::function<void(const torch::Tensor&)>& forward_fn);

}  // namespace ptx::train

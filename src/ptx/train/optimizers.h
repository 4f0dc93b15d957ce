// Optimisers for training: Adam, AdamW, SGD (momentum, Nesterov) from torch::optim and RAdam
// (radam.h), over parameter groups with their own learning-rate factor ("discriminative learning
// rates": the encoder at a tenth of the decoder's rate), with a state that saves to named tensors
// plus JSON and restores into a fresh optimiser that then continues identically.
//
// What the trainer does with it, per optimiser step (gradient accumulation is the trainer's):
//   for each of `accumulate` micro-batches: loss = loss_fn(model(x), y) / accumulate;
//                                            loss.backward();
//   optional: clip_grad_norm(optimizer.parameters(), max_norm)   (after the last backward)
//   optimizer.step(); optimizer.zero_grad();
//   schedules count optimiser steps, not micro-batches; batch norm still sees micro-batches.
// The optimiser is built once per run (never per epoch: its moments would reset), after the model
// is on its device; a resumed run builds it from the same config and model, then
// load_state(saved state). OptimizerState::tensors is a models::NamedTensors: write_tensor_dict
// and read_tensor_dict (models/weights.h) carry it through a file.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ptx::train {

// JSON: {"type": "adam", "lr": 1e-4, "weight_decay": 5e-6, "betas": [0.9, 0.999], "eps": 1e-8,
// "amsgrad": false, "momentum": 0.9, "dampening": 0, "nesterov": false, "encoder_lr_factor": 0.1}.
// Absent keys keep the defaults below; momentum, dampening and nesterov apply to sgd only, betas
// and eps to the Adam family, amsgrad to adam and adamw. Weight decay: L2 added to the gradient
// (adam, radam, sgd), decoupled (adamw).
struct OptimizerConfig {
  std::string type = "adam";  // see optimizer_types()
  double lr = 1e-4;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;
  double momentum = 0.9, dampening = 0.0;
  bool nesterov = false;
  double encoder_lr_factor = 1.0;  // the encoder group's lr = lr x this
};
void to_json(nlohmann::json& j, const OptimizerConfig& config);
void from_json(const nlohmann::json& j, OptimizerConfig& config);  // unknown keys: ptx::core::Error
std::vector<std::string> optimizer_types();                        // adam, adamw, sgd, radam

// Parameters sharing a learning-rate factor; names (parallel to params) key the saved state.
struct ParamGroup {
  std::string name;
  double lr_factor = 1.0;
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
};

// The model's parameters (all of them: frozen ones have no gradient and are skipped by every
// step, so unfreezing later needs no new optimiser) in two groups: "encoder" (names starting with
// "encoder.", at encoder_lr_factor) and "decoder" (the rest, factor 1). Empty groups are left out,
// so a model without an "encoder" submodule gives one group, "decoder".
std::vector<ParamGroup> parameter_groups(const torch::nn::Module& model, double encoder_lr_factor = 1.0);

// An optimiser's resumable state: per-parameter tensors named "<param name>.<slot>" (slots:
// exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer) and JSON with the type, the groups (name,
// lr, lr_factor, parameter names) and each parameter's step count.
struct OptimizerState {
  nlohmann::json meta;
  std::map<std::string, torch::Tensor> tensors;
};

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, std::vector<ParamGroup> groups);
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();
  // Drops the gradients (set_to_none, PyTorch 2's default): a parameter frozen after training
  // then has no gradient and is not moved by the moments it accumulated.
  void zero_grad();

  // The schedule's learning rate: each group gets lr x its lr_factor.
  void set_lr(double lr);
  double lr() const { return lr_; }  // the factor-1 rate last set (initially config().lr)
  std::vector<double> group_lrs() const;
  // Every group's momentum: SGD's momentum, the Adam family's beta1 (for cycling schedules).
  void set_momentum(double momentum);
  std::vector<double> group_momenta() const;

  std::vector<torch::Tensor> parameters() const;  // every group's, in order
  const std::vector<ParamGroup>& groups() const { return groups_; }
  const OptimizerConfig& config() const { return config_; }
  torch::optim::Optimizer& torch_optimizer() { return *optimizer_; }

  // Copies of the moments (on the parameters' device) and step counts.
  OptimizerState state() const;
  // Restores a state() of an optimiser of the same type over parameters with the same names and
  // shapes (the tensors move to each parameter's device). Mismatches are ptx::core::Error.
  void load_state(const OptimizerState& state);

 private:
  OptimizerConfig config_;
  std::vector<ParamGroup> groups_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  double lr_;
};

// The usual construction: config's optimiser over parameter_groups(model, config.encoder_lr_factor).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, const torch::nn::Module& model);

// Scales every gradient so their joint norm is at most max_norm; returns the norm before
// clipping (parameters without a gradient are skipped). norm_type: 2, 1, or infinity.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value(const std::vector<torch::Tensor>& params, double clip_value);

}  // namespace ptx::train

// Learning-rate schedules behind one interface. A schedule gives the base learning rate (the
// factor-1 parameter group's; Optimizer::set_lr scales the others, keeping their ratios) for a
// point of training; closed-form schedules compute it from the point alone, ReduceLROnPlateau
// from the metrics it was given.
//
// What the trainer does:
//   for epoch e (0-based): for optimiser step s of S per epoch:
//       schedule.apply(optimizer, e, s, S); ... optimizer.step();
//     schedule.step(e, validation_metric);             // end of epoch (only plateau uses it)
//     if (schedule.cycle_ends(e)) keep a snapshot;     // warm restarts: the lr restarts next
//   checkpoint: schedule.state() (JSON); resume: make_scheduler(same config), load_state().
//
// Types and their JSON keys ("type" plus):
//   constant                 -
//   plateau                  mode ("min"|"max", default max: the Dice), factor 0.1, patience 10,
//                            threshold 1e-4, threshold_mode ("rel"|"abs"), cooldown 0, min_lr 0
//                            (torch.optim.lr_scheduler.ReduceLROnPlateau; min_lr bounds the base lr)
//   cosine                   t_max (epochs, required), eta_min 0, per_step false
//                            (CosineAnnealingLR's closed form: eta_min + (lr - eta_min)(1 + cos(pi t / t_max)) / 2)
//   cosine_restarts          t_0 (required), t_mult 1, eta_min 0, per_step false
//                            (CosineAnnealingWarmRestarts: cycles of t_0, t_0 t_mult, ... epochs)
//   one_cycle                epochs (required), max_lr (default: the optimiser's lr), pct_start 0.3,
//                            anneal ("cos"|"linear"), div_factor 25, final_div_factor 1e4,
//                            three_phase false, cycle_momentum true, base_momentum 0.85,
//                            max_momentum 0.95 (OneCycleLR over epochs x steps_per_epoch steps;
//                            the momentum, SGD's or the Adam family's beta1, moves against the lr)
//   warmup_exp               lr_start 1e-5, lr_max (default: the optimiser's lr), lr_min 1e-6,
//                            warmup_epochs 5, sustain_epochs 0, decay 0.8, per_step false
//                            (the Keras seed's schedule: linear from lr_start to lr_max over the
//                            warm-up, lr_max for the sustain, then
//                            (lr_max - lr_min) decay^(e - warmup - sustain) + lr_min)
//   swa                      swa_lr (required), anneal_epochs 10, anneal ("cos"|"linear")
//                            (swa_utils.SWALR: from the lr to swa_lr over anneal_epochs, then
//                            constant; swa_lr is the base group's, the others keep their ratios;
//                            in a sequence after the main schedule, from the SWA start epoch)
//   sequence                 parts: [{"epochs": 20, "lr": 1e-4, "schedule": {"type": "plateau"}},
//                            {"epochs": 8, "lr": 1e-5, "schedule": {"type": "cosine", "t_max": 8}}]
//                            (one schedule after another, each counting epochs from its own start
//                            and starting from its own lr, default the optimiser's; the last part
//                            runs on past its epochs; a part's end is also a cycle end)
// per_step true evaluates the curve at fractional epochs e + s / S (a smooth per-step schedule);
// otherwise the lr changes at epoch boundaries, as PyTorch's schedulers stepped once an epoch.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptx::train {

class Optimizer;

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string type() const = 0;
  // The base learning rate for optimiser step `step` (0..steps_per_epoch-1) of epoch `epoch`
  // (0-based). For plateau: the current rate, whatever the point.
  virtual double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const = 0;
  // End of epoch `epoch`, with the validation metric (plateau requires it; others ignore it).
  virtual void step(int64_t epoch, std::optional<double> metric = std::nullopt);
  // True when epoch `epoch` is the last of a cosine cycle (the next one restarts at the top).
  virtual bool cycle_ends(int64_t epoch) const;
  // Everything step() changed, and the type, as JSON; load_state checks the type.
  virtual nlohmann::json state() const;
  virtual void load_state(const nlohmann::json& state);
  // The momentum for that point, for schedules that cycle it (one_cycle); nullopt otherwise.
  virtual std::optional<double> momentum(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const;
  // optimizer.set_lr(lr(epoch, step, steps_per_epoch)), and set_momentum(momentum(...)) if any.
  void apply(Optimizer& optimizer, int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const;
};
using SchedulerPtr = std::unique_ptr<Scheduler>;

class ConstantScheduler : public Scheduler {
 public:
  explicit ConstantScheduler(double lr) : lr_(lr) {}
  std::string type() const override { return "constant"; }
  double lr(int64_t, int64_t = 0, int64_t = 1) const override { return lr_; }

 private:
  double lr_;
};

struct PlateauOptions {
  std::string mode = "max";  // max: higher metric is better (Dice); min: lower (loss)
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // rel or abs
  int64_t cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;  // reductions smaller than this are skipped
};
class PlateauScheduler : public Scheduler {
 public:
  PlateauScheduler(double lr, PlateauOptions options);
  std::string type() const override { return "plateau"; }
  double lr(int64_t = 0, int64_t = 0, int64_t = 1) const override { return lr_; }
  void step(int64_t epoch, std::optional<double> metric) override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;
  int64_t bad_epochs() const { return num_bad_epochs_; }

 private:
  bool is_better(double a) const;
  PlateauOptions o_;
  double lr_;
  std::optional<double> best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = -1;
};

class CosineScheduler : public Scheduler {
 public:
  CosineScheduler(double lr, double t_max, double eta_min = 0.0, bool per_step = false);
  std::string type() const override { return "cosine"; }
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;

 private:
  double base_, t_max_, eta_min_;
  bool per_step_;
};

class CosineRestartsScheduler : public Scheduler {
 public:
  CosineRestartsScheduler(double lr, int64_t t_0, int64_t t_mult = 1, double eta_min = 0.0, bool per_step = false);
  std::string type() const override { return "cosine_restarts"; }
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;
  bool cycle_ends(int64_t epoch) const override;
  // The cycle that epoch t (fractional) falls in: its index, start epoch and length.
  struct Cycle {
    int64_t index, start, length;
  };
  Cycle cycle_of(double t) const;

 private:
  double base_;
  int64_t t_0_, t_mult_;
  double eta_min_;
  bool per_step_;
};

struct OneCycleOptions {
  int64_t epochs = 1;
  double max_lr = 1e-3;
  double pct_start = 0.3;
  std::string anneal = "cos";  // cos or linear
  double div_factor = 25.0, final_div_factor = 1e4;
  bool three_phase = false;
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
};
class OneCycleScheduler : public Scheduler {
 public:
  explicit OneCycleScheduler(OneCycleOptions options);
  std::string type() const override { return "one_cycle"; }
  // Step epoch * steps_per_epoch + step of epochs * steps_per_epoch; past the end: an Error.
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;
  std::optional<double> momentum(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;

 private:
  // {lr, momentum} at the point.
  std::pair<double, double> at(int64_t epoch, int64_t step, int64_t steps_per_epoch) const;
  OneCycleOptions o_;
};

struct WarmupExpOptions {
  double lr_start = 1e-5, lr_max = 1e-4, lr_min = 1e-6;
  double warmup_epochs = 5, sustain_epochs = 0;
  double decay = 0.8;
  bool per_step = false;
};
class WarmupExpScheduler : public Scheduler {
 public:
  explicit WarmupExpScheduler(WarmupExpOptions options);
  std::string type() const override { return "warmup_exp"; }
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;

 private:
  WarmupExpOptions o_;
};

class SwaLrScheduler : public Scheduler {
 public:
  SwaLrScheduler(double lr, double swa_lr, int64_t anneal_epochs = 10, std::string anneal = "cos");
  std::string type() const override { return "swa"; }
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;

 private:
  double base_, swa_lr_;
  int64_t anneal_epochs_;
  std::string anneal_;
};

class SequenceScheduler : public Scheduler {
 public:
  struct Part {
    int64_t epochs;
    SchedulerPtr schedule;
  };
  explicit SequenceScheduler(std::vector<Part> parts);  // at least one; epochs >= 1
  std::string type() const override { return "sequence"; }
  double lr(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;
  std::optional<double> momentum(int64_t epoch, int64_t step = 0, int64_t steps_per_epoch = 1) const override;
  void step(int64_t epoch, std::optional<double> metric) override;
  bool cycle_ends(int64_t epoch) const override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  // The part epoch `epoch` falls in, and the epoch counted from that part's start.
  std::pair<const Part*, int64_t> locate(int64_t epoch) const;
  std::vector<Part> parts_;
};

// Builds a schedule from its config (above); base_lr is the optimiser's configured lr (the
// starting rate of constant, plateau and the cosines; the default max of one_cycle and
// warmup_exp). Unknown types or keys: ptx::core::Error listing the valid ones.
SchedulerPtr make_scheduler(const nlohmann::json& config, double base_lr);
std::vector<std::string> scheduler_types();

}  // namespace ptx::train

#include "ptx/train/schedulers.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/train/json_options.h"
#include "ptx/train/optimizers.h"

namespace ptx::train {

namespace {

constexpr double kPi = 3.14159265358979323846;

// The epoch as a number: e, or e + s / S for per-step schedules.
double time_of(bool per_step, int64_t epoch, int64_t step, int64_t steps_per_epoch) {
  if (epoch < 0 || step < 0 || steps_per_epoch < 1 || step >= steps_per_epoch)
    throw core::Error("schedule: invalid point epoch " + std::to_string(epoch) + ", step " + std::to_string(step) +
                      " of " + std::to_string(steps_per_epoch));
  return per_step ? static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(steps_per_epoch)
                  : static_cast<double>(epoch);
}

double cosine_between(double high, double low, double t, double period) {
  return low + (high - low) * (1.0 + std::cos(kPi * t / period)) / 2.0;
}

}  // namespace

// ---- Scheduler ----

void Scheduler::step(int64_t, std::optional<double>) {}
bool Scheduler::cycle_ends(int64_t) const { return false; }
std::optional<double> Scheduler::momentum(int64_t, int64_t, int64_t) const { return std::nullopt; }
nlohmann::json Scheduler::state() const { return {{"type", type()}}; }

void Scheduler::load_state(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("type") || state.at("type") != type()) {
    const std::string saved =
        state.is_object() && state.contains("type") ? state.at("type").dump() : std::string("no type");
    throw core::Error("schedule state: saved for " + saved + ", restored into '" + type() + "'");
  }
}

void Scheduler::apply(Optimizer& optimizer, int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  optimizer.set_lr(lr(epoch, step, steps_per_epoch));
  if (const auto m = momentum(epoch, step, steps_per_epoch)) optimizer.set_momentum(*m);
}

// ---- plateau ----

PlateauScheduler::PlateauScheduler(double lr, PlateauOptions options) : o_(std::move(options)), lr_(lr) {
  if (o_.mode != "min" && o_.mode != "max") throw core::Error("schedule 'plateau': mode must be min or max");
  if (o_.threshold_mode != "rel" && o_.threshold_mode != "abs")
    throw core::Error("schedule 'plateau': threshold_mode must be rel or abs");
  if (!(o_.factor > 0 && o_.factor < 1)) throw core::Error("schedule 'plateau': factor must be in (0, 1)");
  if (o_.patience < 0 || o_.cooldown < 0)
    throw core::Error("schedule 'plateau': patience and cooldown must be >= 0");
}

bool PlateauScheduler::is_better(double a) const {
  if (!best_) return true;  // PyTorch starts from -inf (max) or +inf (min)
  const double best = *best_;
  if (o_.mode == "min")
    return o_.threshold_mode == "rel" ? a < best * (1.0 - o_.threshold) : a < best - o_.threshold;
  return o_.threshold_mode == "rel" ? a > best * (1.0 + o_.threshold) : a > best + o_.threshold;
}

void PlateauScheduler::step(int64_t epoch, std::optional<double> metric) {
  if (!metric) throw core::Error("schedule 'plateau': step() needs the validation metric");
  if (!std::isfinite(*metric))
    throw core::Error("schedule 'plateau': the metric of epoch " + std::to_string(epoch) + " is not finite");
  last_epoch_ = epoch;
  if (is_better(*metric)) {
    best_ = *metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    const double reduced = std::max(lr_ * o_.factor, o_.min_lr);
    if (lr_ - reduced > o_.eps) lr_ = reduced;
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
}

nlohmann::json PlateauScheduler::state() const {
  return {{"type", type()},
          {"lr", lr_},
          {"best", best_ ? nlohmann::json(*best_) : nlohmann::json(nullptr)},
          {"num_bad_epochs", num_bad_epochs_},
          {"cooldown_counter", cooldown_counter_},
          {"last_epoch", last_epoch_}};
}

void PlateauScheduler::load_state(const nlohmann::json& state) {
  Scheduler::load_state(state);
  try {
    lr_ = state.at("lr").get<double>();
    best_ = state.at("best").is_null() ? std::nullopt : std::optional<double>(state.at("best").get<double>());
    num_bad_epochs_ = state.at("num_bad_epochs").get<int64_t>();
    cooldown_counter_ = state.at("cooldown_counter").get<int64_t>();
    last_epoch_ = state.at("last_epoch").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(std::string("schedule state 'plateau': ") + e.what());
  }
}

// ---- cosine ----

CosineScheduler::CosineScheduler(double lr, double t_max, double eta_min, bool per_step)
    : base_(lr), t_max_(t_max), eta_min_(eta_min), per_step_(per_step) {
  if (!(t_max_ > 0)) throw core::Error("schedule 'cosine': t_max must be positive");
}

double CosineScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  return cosine_between(base_, eta_min_, time_of(per_step_, epoch, step, steps_per_epoch), t_max_);
}

// ---- cosine with warm restarts ----

CosineRestartsScheduler::CosineRestartsScheduler(double lr, int64_t t_0, int64_t t_mult, double eta_min, bool per_step)
    : base_(lr), t_0_(t_0), t_mult_(t_mult), eta_min_(eta_min), per_step_(per_step) {
  if (t_0_ < 1 || t_mult_ < 1) throw core::Error("schedule 'cosine_restarts': t_0 and t_mult must be >= 1");
}

CosineRestartsScheduler::Cycle CosineRestartsScheduler::cycle_of(double t) const {
  Cycle c{0, 0, t_0_};
  while (t >= static_cast<double>(c.start + c.length)) {
    c.start += c.length;
    c.length *= t_mult_;
    ++c.index;
  }
  return c;
}

double CosineRestartsScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  const double t = time_of(per_step_, epoch, step, steps_per_epoch);
  const auto c = cycle_of(t);
  return cosine_between(base_, eta_min_, t - static_cast<double>(c.start), static_cast<double>(c.length));
}

bool CosineRestartsScheduler::cycle_ends(int64_t epoch) const {
  return cycle_of(static_cast<double>(epoch + 1)).start == epoch + 1;
}

// ---- one cycle ----

OneCycleScheduler::OneCycleScheduler(OneCycleOptions options) : o_(std::move(options)) {
  if (o_.epochs < 1) throw core::Error("schedule 'one_cycle': epochs must be >= 1");
  if (!(o_.pct_start > 0 && o_.pct_start < 1)) throw core::Error("schedule 'one_cycle': pct_start must be in (0, 1)");
  if (o_.anneal != "cos" && o_.anneal != "linear")
    throw core::Error("schedule 'one_cycle': anneal must be cos or linear");
  if (!(o_.div_factor > 0 && o_.final_div_factor > 0))
    throw core::Error("schedule 'one_cycle': div_factor and final_div_factor must be positive");
}

double OneCycleScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  return at(epoch, step, steps_per_epoch).first;
}

std::optional<double> OneCycleScheduler::momentum(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  if (!o_.cycle_momentum) return std::nullopt;
  return at(epoch, step, steps_per_epoch).second;
}

std::pair<double, double> OneCycleScheduler::at(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  time_of(true, epoch, step, steps_per_epoch);  // validates the point
  const double total = static_cast<double>(o_.epochs * steps_per_epoch);
  const double n = static_cast<double>(epoch * steps_per_epoch + step);
  if (n >= total)
    throw core::Error("schedule 'one_cycle': step " + std::to_string(epoch * steps_per_epoch + step) +
                      " is past the cycle's " + std::to_string(o_.epochs * steps_per_epoch) + " steps");
  const double initial = o_.max_lr / o_.div_factor, min_lr = initial / o_.final_div_factor;
  struct Phase {
    double end, start_lr, end_lr, start_momentum, end_momentum;
  };
  const double lo = o_.base_momentum, hi = o_.max_momentum;
  const Phase three[] = {{o_.pct_start * total - 1, initial, o_.max_lr, hi, lo},
                         {2 * o_.pct_start * total - 2, o_.max_lr, initial, lo, hi},
                         {total - 1, initial, min_lr, hi, hi}};
  const Phase two[] = {{o_.pct_start * total - 1, initial, o_.max_lr, hi, lo}, {total - 1, o_.max_lr, min_lr, lo, hi}};
  const Phase* phases = o_.three_phase ? three : two;
  const size_t count = o_.three_phase ? 3 : 2;
  // As OneCycleLR: the first phase whose end is not behind n (the last one otherwise).
  double start = 0;
  for (size_t i = 0; i < count; ++i) {
    const auto& ph = phases[i];
    if (n <= ph.end || i + 1 == count) {
      const double pct = (n - start) / (ph.end - start);
      const auto anneal = [&](double from, double to) {
        return o_.anneal == "cos" ? to + (from - to) / 2.0 * (std::cos(kPi * pct) + 1.0) : (to - from) * pct + from;
      };
      return {anneal(ph.start_lr, ph.end_lr), anneal(ph.start_momentum, ph.end_momentum)};
    }
    start = ph.end;
  }
  return {min_lr, hi};  // unreachable
}

// ---- warm-up, sustain, exponential decay ----

WarmupExpScheduler::WarmupExpScheduler(WarmupExpOptions options) : o_(options) {
  if (o_.warmup_epochs < 0 || o_.sustain_epochs < 0)
    throw core::Error("schedule 'warmup_exp': warmup_epochs and sustain_epochs must be >= 0");
  if (!(o_.decay > 0 && o_.decay <= 1)) throw core::Error("schedule 'warmup_exp': decay must be in (0, 1]");
}

double WarmupExpScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  const double e = time_of(o_.per_step, epoch, step, steps_per_epoch);
  if (e < o_.warmup_epochs) return (o_.lr_max - o_.lr_start) / o_.warmup_epochs * e + o_.lr_start;
  if (e < o_.warmup_epochs + o_.sustain_epochs) return o_.lr_max;
  return (o_.lr_max - o_.lr_min) * std::pow(o_.decay, e - o_.warmup_epochs - o_.sustain_epochs) + o_.lr_min;
}

// ---- SWA ----

SwaLrScheduler::SwaLrScheduler(double lr, double swa_lr, int64_t anneal_epochs, std::string anneal)
    : base_(lr), swa_lr_(swa_lr), anneal_epochs_(anneal_epochs), anneal_(std::move(anneal)) {
  if (anneal_epochs_ < 0) throw core::Error("schedule 'swa': anneal_epochs must be >= 0");
  if (anneal_ != "cos" && anneal_ != "linear") throw core::Error("schedule 'swa': anneal must be cos or linear");
  if (!(swa_lr_ >= 0)) throw core::Error("schedule 'swa': swa_lr must be >= 0");
}

double SwaLrScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  time_of(false, epoch, step, steps_per_epoch);  // validates the point
  // SWALR's closed form: t = epoch / anneal_epochs (1 when there is no annealing).
  const double t = anneal_epochs_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(epoch) / anneal_epochs_);
  const double alpha = anneal_ == "cos" ? (1.0 - std::cos(kPi * t)) / 2.0 : t;
  return swa_lr_ * alpha + base_ * (1.0 - alpha);
}

// ---- sequence ----

SequenceScheduler::SequenceScheduler(std::vector<Part> parts) : parts_(std::move(parts)) {
  if (parts_.empty()) throw core::Error("schedule 'sequence': no parts");
  for (const auto& p : parts_) {
    if (p.epochs < 1) throw core::Error("schedule 'sequence': every part needs epochs >= 1");
    if (!p.schedule) throw core::Error("schedule 'sequence': a part has no schedule");
  }
}

std::pair<const SequenceScheduler::Part*, int64_t> SequenceScheduler::locate(int64_t epoch) const {
  if (epoch < 0) throw core::Error("schedule: invalid epoch " + std::to_string(epoch));
  int64_t start = 0;
  for (size_t i = 0; i + 1 < parts_.size(); ++i) {
    if (epoch < start + parts_[i].epochs) return {&parts_[i], epoch - start};
    start += parts_[i].epochs;
  }
  return {&parts_.back(), epoch - start};
}

double SequenceScheduler::lr(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  const auto [part, local] = locate(epoch);
  return part->schedule->lr(local, step, steps_per_epoch);
}

std::optional<double> SequenceScheduler::momentum(int64_t epoch, int64_t step, int64_t steps_per_epoch) const {
  const auto [part, local] = locate(epoch);
  return part->schedule->momentum(local, step, steps_per_epoch);
}

void SequenceScheduler::step(int64_t epoch, std::optional<double> metric) {
  const auto [part, local] = locate(epoch);
  part->schedule->step(local, metric);
}

bool SequenceScheduler::cycle_ends(int64_t epoch) const {
  const auto [part, local] = locate(epoch);
  const bool last = part == &parts_.back();
  return part->schedule->cycle_ends(local) || (!last && local + 1 == part->epochs);
}

nlohmann::json SequenceScheduler::state() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : parts_) parts.push_back(p.schedule->state());
  return {{"type", type()}, {"parts", parts}};
}

void SequenceScheduler::load_state(const nlohmann::json& state) {
  Scheduler::load_state(state);
  if (!state.contains("parts") || !state.at("parts").is_array() || state.at("parts").size() != parts_.size())
    throw core::Error("schedule state 'sequence': expected " + std::to_string(parts_.size()) + " part states");
  for (size_t i = 0; i < parts_.size(); ++i) parts_[i].schedule->load_state(state.at("parts")[i]);
}

// ---- configs ----

std::vector<std::string> scheduler_types() {
  return {"constant", "plateau", "cosine", "cosine_restarts", "one_cycle", "warmup_exp", "swa", "sequence"};
}

SchedulerPtr make_scheduler(const nlohmann::json& config, double base_lr) {
  if (!config.is_object() || !config.contains("type") || !config.at("type").is_string())
    throw core::Error("schedule: expected an object with a string 'type' (one of " + core::join(scheduler_types()) +
                      "), got " + config.dump());
  const auto type = config.at("type").get<std::string>();
  const std::string context = "schedule '" + type + "'";
  if (type == "constant") {
    JsonOptions o(config, context, {"type"});
    return std::make_unique<ConstantScheduler>(base_lr);
  }
  if (type == "plateau") {
    JsonOptions o(config, context,
                  {"type", "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps"});
    PlateauOptions p;
    p.mode = o.choice("mode", p.mode, {"min", "max"});
    p.factor = o.number("factor", p.factor);
    p.patience = o.integer("patience", p.patience);
    p.threshold = o.number("threshold", p.threshold);
    p.threshold_mode = o.choice("threshold_mode", p.threshold_mode, {"rel", "abs"});
    p.cooldown = o.integer("cooldown", p.cooldown);
    p.min_lr = o.number("min_lr", p.min_lr);
    p.eps = o.number("eps", p.eps);
    return std::make_unique<PlateauScheduler>(base_lr, p);
  }
  if (type == "cosine") {
    JsonOptions o(config, context, {"type", "t_max", "eta_min", "per_step"});
    if (!o.has("t_max")) throw core::Error(context + ": the key 't_max' is required");
    return std::make_unique<CosineScheduler>(base_lr, o.number("t_max", 0.0), o.number("eta_min", 0.0),
                                             o.boolean("per_step", false));
  }
  if (type == "cosine_restarts") {
    JsonOptions o(config, context, {"type", "t_0", "t_mult", "eta_min", "per_step"});
    if (!o.has("t_0")) throw core::Error(context + ": the key 't_0' is required");
    return std::make_unique<CosineRestartsScheduler>(base_lr, o.integer("t_0", 0), o.integer("t_mult", 1),
                                                     o.number("eta_min", 0.0), o.boolean("per_step", false));
  }
  if (type == "one_cycle") {
    JsonOptions o(config, context,
                  {"type", "epochs", "max_lr", "pct_start", "anneal", "div_factor", "final_div_factor", "three_phase",
                   "cycle_momentum", "base_momentum", "max_momentum"});
    if (!o.has("epochs")) throw core::Error(context + ": the key 'epochs' is required");
    OneCycleOptions p;
    p.epochs = o.integer("epochs", 0);
    p.max_lr = o.number("max_lr", base_lr);
    p.pct_start = o.number("pct_start", p.pct_start);
    p.anneal = o.choice("anneal", p.anneal, {"cos", "linear"});
    p.div_factor = o.number("div_factor", p.div_factor);
    p.final_div_factor = o.number("final_div_factor", p.final_div_factor);
    p.three_phase = o.boolean("three_phase", p.three_phase);
    p.cycle_momentum = o.boolean("cycle_momentum", p.cycle_momentum);
    p.base_momentum = o.number("base_momentum", p.base_momentum);
    p.max_momentum = o.number("max_momentum", p.max_momentum);
    return std::make_unique<OneCycleScheduler>(p);
  }
  if (type == "warmup_exp") {
    JsonOptions o(config, context,
                  {"type", "lr_start", "lr_max", "lr_min", "warmup_epochs", "sustain_epochs", "decay", "per_step"});
    WarmupExpOptions p;
    p.lr_start = o.number("lr_start", p.lr_start);
    p.lr_max = o.number("lr_max", base_lr);
    p.lr_min = o.number("lr_min", p.lr_min);
    p.warmup_epochs = o.number("warmup_epochs", p.warmup_epochs);
    p.sustain_epochs = o.number("sustain_epochs", p.sustain_epochs);
    p.decay = o.number("decay", p.decay);
    p.per_step = o.boolean("per_step", p.per_step);
    return std::make_unique<WarmupExpScheduler>(p);
  }
  if (type == "swa") {
    JsonOptions o(config, context, {"type", "swa_lr", "anneal_epochs", "anneal"});
    if (!o.has("swa_lr")) throw core::Error(context + ": the key 'swa_lr' is required");
    return std::make_unique<SwaLrScheduler>(base_lr, o.number("swa_lr", 0.0), o.integer("anneal_epochs", 10),
                                            o.choice("anneal", "cos", {"cos", "linear"}));
  }
  if (type == "sequence") {
    JsonOptions o(config, context, {"type", "parts"});
    const auto& parts = o.at("parts");
    if (!parts.is_array() || parts.empty())
      throw core::Error(context + ": 'parts' must be a non-empty list of {\"epochs\", \"lr\", \"schedule\"}");
    std::vector<SequenceScheduler::Part> built;
    for (size_t i = 0; i < parts.size(); ++i) {
      const JsonOptions p(parts[i], context + " part " + std::to_string(i), {"epochs", "lr", "schedule"});
      if (!p.has("epochs")) throw core::Error(p.context() + ": the key 'epochs' is required");
      if (p.has("schedule") && p.at("schedule").is_object() && p.at("schedule").value("type", "") == "sequence")
        throw core::Error(p.context() + ": a sequence cannot contain a sequence");
      built.push_back({p.integer("epochs", 0), make_scheduler(p.at("schedule"), p.number("lr", base_lr))});
    }
    return std::make_unique<SequenceScheduler>(std::move(built));
  }
  throw core::Error("schedule: unknown type '" + type + "': valid types are " + core::join(scheduler_types()));
}

}  // namespace ptx::train

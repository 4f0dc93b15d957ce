#include "ptx/train/optimizers.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/train/json_options.h"
#include "ptx/train/radam.h"

namespace ptx::train {

namespace {

const std::vector<std::string> kConfigKeys{"type",     "lr",        "weight_decay", "betas",
                                           "eps",      "amsgrad",   "momentum",     "dampening",
                                           "nesterov", "encoder_lr_factor"};

std::string state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

std::vector<torch::optim::OptimizerParamGroup> torch_groups(const std::vector<ParamGroup>& groups) {
  std::vector<torch::optim::OptimizerParamGroup> out;
  for (const auto& g : groups) out.emplace_back(g.params);
  return out;
}

std::unique_ptr<torch::optim::Optimizer> build(const OptimizerConfig& c, const std::vector<ParamGroup>& groups) {
  const auto betas = std::make_tuple(c.beta1, c.beta2);
  if (c.type == "adam")
    return std::make_unique<torch::optim::Adam>(
        torch_groups(groups),
        torch::optim::AdamOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay).amsgrad(c.amsgrad));
  if (c.type == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        torch_groups(groups),
        torch::optim::AdamWOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay).amsgrad(c.amsgrad));
  if (c.type == "sgd") {
    if (c.nesterov && (c.momentum <= 0 || c.dampening != 0))
      throw core::Error("optimizer 'sgd': nesterov needs momentum > 0 and dampening 0");
    return std::make_unique<torch::optim::SGD>(torch_groups(groups), torch::optim::SGDOptions(c.lr)
                                                                         .momentum(c.momentum)
                                                                         .dampening(c.dampening)
                                                                         .weight_decay(c.weight_decay)
                                                                         .nesterov(c.nesterov));
  }
  if (c.type == "radam")
    return std::make_unique<RAdam>(torch_groups(groups),
                                   RAdamOptions(c.lr).betas(betas).eps(c.eps).weight_decay(c.weight_decay));
  throw core::Error("optimizer: unknown type '" + c.type + "': valid types are " + core::join(optimizer_types()));
}

// The named slots of one parameter's state, and its step count (-1: the type keeps none).
struct Slots {
  int64_t step = -1;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
};

Slots slots_of(const torch::optim::OptimizerParamState& s) {
  Slots out;
  const auto add = [&](const char* name, const torch::Tensor& t) {
    if (t.defined()) out.tensors.emplace_back(name, t);
  };
  if (const auto* a = dynamic_cast<const torch::optim::AdamParamState*>(&s)) {
    out.step = a->step();
    add("exp_avg", a->exp_avg());
    add("exp_avg_sq", a->exp_avg_sq());
    add("max_exp_avg_sq", a->max_exp_avg_sq());
  } else if (const auto* w = dynamic_cast<const torch::optim::AdamWParamState*>(&s)) {
    out.step = w->step();
    add("exp_avg", w->exp_avg());
    add("exp_avg_sq", w->exp_avg_sq());
    add("max_exp_avg_sq", w->max_exp_avg_sq());
  } else if (const auto* r = dynamic_cast<const RAdamParamState*>(&s)) {
    out.step = r->step();
    add("exp_avg", r->exp_avg());
    add("exp_avg_sq", r->exp_avg_sq());
  } else if (const auto* g = dynamic_cast<const torch::optim::SGDParamState*>(&s)) {
    add("momentum_buffer", g->momentum_buffer());
  } else {
    throw core::Error("optimizer state: a parameter state of an unsupported type");
  }
  return out;
}

}  // namespace

std::vector<std::string> optimizer_types() { return {"adam", "adamw", "sgd", "radam"}; }

void to_json(nlohmann::json& j, const OptimizerConfig& c) {
  j = nlohmann::json{{"type", c.type},
                     {"lr", c.lr},
                     {"weight_decay", c.weight_decay},
                     {"betas", {c.beta1, c.beta2}},
                     {"eps", c.eps},
                     {"amsgrad", c.amsgrad},
                     {"momentum", c.momentum},
                     {"dampening", c.dampening},
                     {"nesterov", c.nesterov},
                     {"encoder_lr_factor", c.encoder_lr_factor}};
}

void from_json(const nlohmann::json& j, OptimizerConfig& config) {
  const JsonOptions o(j, "optimizer", kConfigKeys);
  OptimizerConfig c;
  c.type = o.choice("type", c.type, optimizer_types());
  c.lr = o.number("lr", c.lr);
  c.weight_decay = o.number("weight_decay", c.weight_decay);
  if (o.has("betas")) {
    const auto& b = o.at("betas");
    if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number())
      throw core::Error("optimizer: 'betas' must be two numbers, got " + b.dump());
    c.beta1 = b[0].get<double>();
    c.beta2 = b[1].get<double>();
  }
  c.eps = o.number("eps", c.eps);
  c.amsgrad = o.boolean("amsgrad", c.amsgrad);
  c.momentum = o.number("momentum", c.momentum);
  c.dampening = o.number("dampening", c.dampening);
  c.nesterov = o.boolean("nesterov", c.nesterov);
  c.encoder_lr_factor = o.number("encoder_lr_factor", c.encoder_lr_factor);
  if (!(c.lr >= 0)) throw core::Error("optimizer: 'lr' must be >= 0");
  if (!(c.weight_decay >= 0)) throw core::Error("optimizer: 'weight_decay' must be >= 0");
  if (!(c.encoder_lr_factor >= 0)) throw core::Error("optimizer: 'encoder_lr_factor' must be >= 0");
  if (c.amsgrad && c.type != "adam" && c.type != "adamw")
    throw core::Error("optimizer: 'amsgrad' applies to adam and adamw only");
  config = c;
}

std::vector<ParamGroup> parameter_groups(const torch::nn::Module& model, double encoder_lr_factor) {
  ParamGroup encoder{"encoder", encoder_lr_factor, {}, {}}, rest{"decoder", 1.0, {}, {}};
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    auto& g = item.key().rfind("encoder.", 0) == 0 ? encoder : rest;
    g.names.push_back(item.key());
    g.params.push_back(item.value());
  }
  std::vector<ParamGroup> out;
  for (auto* g : {&encoder, &rest})
    if (!g->params.empty()) out.push_back(std::move(*g));
  return out;
}

Optimizer::Optimizer(const OptimizerConfig& config, std::vector<ParamGroup> groups)
    : config_(config), groups_(std::move(groups)), lr_(config.lr) {
  if (groups_.empty()) throw core::Error("optimizer: no parameter groups");
  for (auto& g : groups_) {
    if (g.params.empty()) throw core::Error("optimizer: parameter group '" + g.name + "' is empty");
    if (g.names.empty())
      for (size_t i = 0; i < g.params.size(); ++i) g.names.push_back(g.name + "." + std::to_string(i));
    if (g.names.size() != g.params.size())
      throw core::Error("optimizer: group '" + g.name + "' has " + std::to_string(g.names.size()) + " names for " +
                        std::to_string(g.params.size()) + " parameters");
    if (!(g.lr_factor >= 0)) throw core::Error("optimizer: group '" + g.name + "' has a negative lr_factor");
  }
  optimizer_ = build(config_, groups_);
  set_lr(config_.lr);
}

void Optimizer::step() { optimizer_->step(); }
void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0)) throw core::Error("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  lr_ = lr;
  auto& torch_groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups_.size(); ++i) torch_groups[i].options().set_lr(lr * groups_[i].lr_factor);
}

std::vector<double> Optimizer::group_lrs() const {
  std::vector<double> out;
  for (const auto& g : optimizer_->param_groups()) out.push_back(g.options().get_lr());
  return out;
}

namespace {

// Reads (value < 0) or sets a group's momentum; returns it.
double group_momentum(torch::optim::OptimizerOptions& o, double value) {
  const auto beta1 = [&](auto& options) {
    auto betas = options.betas();
    if (value >= 0) options.betas(std::make_tuple(value, std::get<1>(betas)));
    return std::get<0>(options.betas());
  };
  if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&o)) {
    if (value >= 0) sgd->momentum(value);
    return sgd->momentum();
  }
  if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&o)) return beta1(*adam);
  if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&o)) return beta1(*adamw);
  if (auto* radam = dynamic_cast<RAdamOptions*>(&o)) return beta1(*radam);
  throw core::Error("optimizer: options of an unsupported type");
}

}  // namespace

void Optimizer::set_momentum(double momentum) {
  if (!(momentum >= 0 && momentum < 1))
    throw core::Error("optimizer: momentum must be in [0, 1), got " + std::to_string(momentum));
  for (auto& g : optimizer_->param_groups()) group_momentum(g.options(), momentum);
}

std::vector<double> Optimizer::group_momenta() const {
  std::vector<double> out;
  for (auto& g : optimizer_->param_groups()) out.push_back(group_momentum(g.options(), -1.0));
  return out;
}

std::vector<torch::Tensor> Optimizer::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

OptimizerState Optimizer::state() const {
  OptimizerState out;
  out.meta = {{"type", config_.type}, {"lr", lr_}, {"groups", nlohmann::json::array()},
              {"steps", nlohmann::json::object()}};
  const auto lrs = group_lrs();
  const auto& states = optimizer_->state();
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const auto& g = groups_[gi];
    out.meta["groups"].push_back(
        {{"name", g.name}, {"lr", lrs[gi]}, {"lr_factor", g.lr_factor}, {"params", g.names}});
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto it = states.find(state_key(g.params[i]));
      if (it == states.end()) continue;  // never stepped (no gradient yet)
      const auto slots = slots_of(*it->second);
      if (slots.step >= 0) out.meta["steps"][g.names[i]] = slots.step;
      for (const auto& [slot, t] : slots.tensors) out.tensors[g.names[i] + "." + slot] = t.detach().clone();
    }
  }
  return out;
}

void Optimizer::load_state(const OptimizerState& state) {
  const auto& m = state.meta;
  const auto fail = [](const std::string& why) { throw core::Error("optimizer state: " + why); };
  if (!m.is_object() || !m.contains("type") || !m.contains("groups") || !m.contains("steps") || !m.contains("lr"))
    fail("the JSON lacks type, lr, groups or steps");
  if (m.at("type") != config_.type)
    fail("saved by a '" + m.at("type").get<std::string>() + "' optimiser, restored into '" + config_.type + "'");
  const auto& groups = m.at("groups");
  if (!groups.is_array() || groups.size() != groups_.size())
    fail(std::to_string(groups.size()) + " saved parameter groups for " + std::to_string(groups_.size()));
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups[gi].at("name") != groups_[gi].name)
      fail("group " + std::to_string(gi) + " is '" + groups[gi].at("name").get<std::string>() + "', expected '" +
           groups_[gi].name + "'");
    if (groups[gi].at("params").get<std::vector<std::string>>() != groups_[gi].names)
      fail("group '" + groups_[gi].name + "' holds other parameters than the saved one");
  }

  // Build every parameter's state first, then swap it in: a failure leaves the optimiser as it was.
  const auto& steps = m.at("steps");
  std::vector<std::pair<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>> fresh;
  for (const auto& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      const auto& name = g.names[i];
      const auto& p = g.params[i];
      const auto tensor = [&](const char* slot, bool required) -> torch::Tensor {
        const auto it = state.tensors.find(name + "." + slot);
        if (it == state.tensors.end()) {
          if (required) fail("no tensor '" + name + "." + slot + "'");
          return {};
        }
        if (it->second.sizes() != p.sizes())
          fail("'" + name + "." + slot + "' has shape " + c10::str(it->second.sizes()) + ", the parameter " +
               c10::str(p.sizes()));
        return it->second.detach().to(p.device(), it->second.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
      };
      if (config_.type == "sgd") {
        if (auto buf = tensor("momentum_buffer", false); buf.defined()) {
          auto s = std::make_unique<torch::optim::SGDParamState>();
          s->momentum_buffer(buf);
          fresh.emplace_back(state_key(p), std::move(s));
        }
        continue;
      }
      if (!steps.contains(name)) continue;  // never stepped
      const int64_t step = steps.at(name).get<int64_t>();
      const bool ams = config_.amsgrad;
      if (config_.type == "adam") {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(step).exp_avg(tensor("exp_avg", true)).exp_avg_sq(tensor("exp_avg_sq", true));
        if (ams) s->max_exp_avg_sq(tensor("max_exp_avg_sq", true));
        fresh.emplace_back(state_key(p), std::move(s));
      } else if (config_.type == "adamw") {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(step).exp_avg(tensor("exp_avg", true)).exp_avg_sq(tensor("exp_avg_sq", true));
        if (ams) s->max_exp_avg_sq(tensor("max_exp_avg_sq", true));
        fresh.emplace_back(state_key(p), std::move(s));
      } else {
        auto s = std::make_unique<RAdamParamState>();
        s->step(step).exp_avg(tensor("exp_avg", true)).exp_avg_sq(tensor("exp_avg_sq", true));
        fresh.emplace_back(state_key(p), std::move(s));
      }
    }
  }
  auto& target = optimizer_->state();
  target.clear();
  for (auto& [key, s] : fresh) target[key] = std::move(s);
  auto& torch_groups = optimizer_->param_groups();
  for (size_t gi = 0; gi < groups_.size(); ++gi) torch_groups[gi].options().set_lr(groups[gi].at("lr").get<double>());
  lr_ = m.at("lr").get<double>();
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, const torch::nn::Module& model) {
  return std::make_unique<Optimizer>(config, parameter_groups(model, config.encoder_lr_factor));
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm, double norm_type) {
  if (!(max_norm > 0)) throw core::Error("clip_grad_norm: max_norm must be positive");
  return torch::nn::utils::clip_grad_norm_(params, max_norm, norm_type);
}

void clip_grad_value(const std::vector<torch::Tensor>& params, double clip_value) {
  if (!(clip_value > 0)) throw core::Error("clip_grad_value: clip_value must be positive");
  torch::nn::utils::clip_grad_value_(params, clip_value);
}

}  // namespace ptx::train

#include "ptx/train/radam.h"

#include <cmath>

#include "ptx/core/error.h"

namespace ptx::train {

RAdam::RAdam(std::vector<torch::optim::OptimizerParamGroup> param_groups, RAdamOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<RAdamOptions>(defaults)) {
  const auto [b1, b2] = defaults.betas();
  if (!(defaults.lr() >= 0)) throw core::Error("radam: invalid learning rate " + std::to_string(defaults.lr()));
  if (!(defaults.eps() >= 0)) throw core::Error("radam: invalid eps " + std::to_string(defaults.eps()));
  if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
    throw core::Error("radam: betas must be in [0, 1), got " + std::to_string(b1) + ", " + std::to_string(b2));
  if (!(defaults.weight_decay() >= 0))
    throw core::Error("radam: invalid weight_decay " + std::to_string(defaults.weight_decay()));
}

torch::Tensor RAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const RAdamOptions&>(group.options());
    const auto [beta1, beta2] = o.betas();
    const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (p.grad().is_sparse()) throw core::Error("radam does not support sparse gradients");
      auto grad = p.grad();
      // LibTorch keys the state by the parameter's TensorImpl, as its own optimisers do.
      const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto fresh = std::make_unique<RAdamParamState>();
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<RAdamParamState&>(*it->second);
      state.step(state.step() + 1);
      const double t = static_cast<double>(state.step());
      const double bias_correction1 = 1.0 - std::pow(beta1, t);
      const double bias_correction2 = 1.0 - std::pow(beta2, t);
      if (o.weight_decay() != 0) grad = grad.add(p, o.weight_decay());

      auto& exp_avg = state.exp_avg();
      auto& exp_avg_sq = state.exp_avg_sq();
      exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
      const auto corrected = exp_avg / bias_correction1;

      const double rho_t = rho_inf - 2.0 * t * std::pow(beta2, t) / bias_correction2;
      if (rho_t > 5.0) {
        const double rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        // Same operation order as PyTorch: sqrt(bc2) / (sqrt(v) + eps) is reciprocal() * sqrt(bc2).
        const auto adaptive_lr = exp_avg_sq.sqrt().add_(o.eps()).reciprocal() * std::sqrt(bias_correction2);
        p.add_(corrected * o.lr() * adaptive_lr * rect, -1.0);
      } else {
        p.add_(corrected * o.lr(), -1.0);
      }
    }
  }
  return loss;
}

}  // namespace ptx::train

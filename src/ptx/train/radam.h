// RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), which
// LibTorch 1.13 lacks: a torch::optim::Optimizer with torch.optim.RAdam's update (PyTorch 1.13):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2          (g += weight_decay * p first)
//   rho_inf = 2 / (1 - b2) - 1,  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
//   rho_t > 5: p -= lr * m / (1 - b1^t) * r_t * sqrt(1 - b2^t) / (sqrt(v) + eps),
//              r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//   else:      p -= lr * m / (1 - b1^t)                      (SGD with momentum, bias-corrected)
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <tuple>
#include <vector>

namespace ptx::train {

struct RAdamOptions : public torch::optim::OptimizerCloneableOptions<RAdamOptions> {
  RAdamOptions(double lr = 1e-3) : lr_(lr) {}  // NOLINT: implicit like torch's AdamOptions
  TORCH_ARG(double, lr) = 1e-3;
  typedef std::tuple<double, double> betas_t;
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

struct RAdamParamState : public torch::optim::OptimizerCloneableParamState<RAdamParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(torch::Tensor, exp_avg);
  TORCH_ARG(torch::Tensor, exp_avg_sq);
};

class RAdam : public torch::optim::Optimizer {
 public:
  explicit RAdam(std::vector<torch::optim::OptimizerParamGroup> param_groups, RAdamOptions defaults = {});
  explicit RAdam(std::vector<torch::Tensor> params, RAdamOptions defaults = {})
      : RAdam({torch::optim::OptimizerParamGroup(std::move(params))}, defaults) {}
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace ptx::train

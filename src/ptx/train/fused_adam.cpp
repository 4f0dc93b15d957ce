// The per-element update is written as a plain loop for the compiler to vectorise: math-errno off
// lets it use vector square roots; one clone per instruction set is chosen at run time.
#pragma GCC optimize("no-math-errno")
#include "ptx/train/fused_adam.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace ptx::train {

namespace {

struct Update {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps, inv_sqrt_bias2, step_size;
};

// p, g, m, v: n floats each, in the same layout.
__attribute__((target_clones("avx512f", "avx2", "default"))) void adam_update(float* p, const float* g, float* m, float* v,
                                                                              int64_t n, Update u) {
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] + u.weight_decay * p[i];
    m[i] = m[i] * u.beta1 + u.one_minus_beta1 * grad;
    v[i] = v[i] * u.beta2 + u.one_minus_beta2 * grad * grad;
    p[i] -= u.step_size * m[i] / (std::sqrt(v[i]) * u.inv_sqrt_bias2 + u.eps);
  }
}

bool same_dense_layout(const torch::Tensor& a, const torch::Tensor& b) {
  return b.device().is_cpu() && b.scalar_type() == torch::kFloat && !b.is_sparse() && b.sizes() == a.sizes() &&
         b.strides() == a.strides() && b.is_non_overlapping_and_dense();
}

}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  // One loop for every parameter, or LibTorch's step for all (never a mix within one step).
  for (auto& group : param_groups_) {
    if (static_cast<torch::optim::AdamOptions&>(group.options()).amsgrad()) return Adam::step(closure);
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!same_dense_layout(p, p) || !same_dense_layout(p, p.grad())) return Adam::step(closure);
      const auto it = state_.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it != state_.end()) {
        const auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
        if (!same_dense_layout(p, s.exp_avg()) || !same_dense_layout(p, s.exp_avg_sq())) return Adam::step(closure);
      }
    }
  }
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state_[c10::guts::to_string(p.unsafeGetTensorImpl())];
      if (!slot) {  // as LibTorch's Adam starts a parameter's state
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
      s.step(s.step() + 1);
      const double bias1 = 1 - std::pow(beta1, double(s.step())), bias2 = 1 - std::pow(beta2, double(s.step()));
      const Update u{float(beta1),          float(beta2),           float(1 - beta1),
                     float(1 - beta2),      float(o.weight_decay()), float(o.eps()),
                     float(1 / std::sqrt(bias2)), float(o.lr() / bias1)};
      float* pd = p.data_ptr<float>();
      const float* gd = p.grad().data_ptr<float>();
      float* md = s.exp_avg().data_ptr<float>();
      float* vd = s.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
        adam_update(pd + begin, gd + begin, md + begin, vd + begin, end - begin, u);
      });
    }
  }
  return loss;
}

}  // namespace ptx::train

#include "ptx/train/swa.h"

#include <optional>

#include "ptx/core/error.h"

namespace ptx::train {

namespace {

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

SwaAverage::SwaAverage(const torch::nn::Module& model) {
  for (const auto& item : model.named_parameters(/*recurse=*/true)) names_.push_back(item.key());
  if (names_.empty()) throw core::Error("swa: the model has no parameters");
}

void SwaAverage::update(const torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  const auto params = model.named_parameters(/*recurse=*/true);
  if (params.size() != names_.size())
    throw core::Error("swa: the model has " + std::to_string(params.size()) + " parameters, the average " +
                      std::to_string(names_.size()));
  // Check everything before changing anything.
  for (const auto& name : names_) {
    const auto* p = params.find(name);
    if (!p) throw core::Error("swa: the model has no parameter '" + name + "'");
    if (count_ > 0 && p->sizes() != average_.at(name).sizes())
      throw core::Error("swa: parameter '" + name + "' has shape " + shape_of(*p) + ", its average " +
                        shape_of(average_.at(name)));
  }
  for (const auto& name : names_) {
    const auto& p = params[name];
    if (count_ == 0) {
      average_[name] = p.detach().clone();
    } else {
      auto& avg = average_.at(name);
      avg.add_((p.detach().to(avg.device()) - avg) / static_cast<double>(count_ + 1));
    }
  }
  ++count_;
}

const torch::Tensor& SwaAverage::average(const std::string& name) const {
  if (count_ == 0) throw core::Error("swa: nothing averaged yet");
  const auto it = average_.find(name);
  if (it == average_.end()) throw core::Error("swa: no parameter '" + name + "' is averaged");
  return it->second;
}

void SwaAverage::copy_to(torch::nn::Module& model) const {
  if (count_ == 0) throw core::Error("swa: nothing averaged yet: call update() after an epoch first");
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters(/*recurse=*/true);
  if (params.size() != names_.size())
    throw core::Error("swa: the model has " + std::to_string(params.size()) + " parameters, the average " +
                      std::to_string(names_.size()));
  for (const auto& name : names_) {
    auto* p = params.find(name);
    if (!p) throw core::Error("swa: the model has no parameter '" + name + "'");
    if (p->sizes() != average_.at(name).sizes())
      throw core::Error("swa: parameter '" + name + "' has shape " + shape_of(*p) + ", its average " +
                        shape_of(average_.at(name)));
  }
  for (const auto& name : names_) params[name].copy_(average_.at(name));
}

SwaState SwaAverage::state() const {
  SwaState out;
  out.count = count_;
  for (const auto& [name, t] : average_) out.tensors[name] = t.clone();
  return out;
}

void SwaAverage::load_state(const SwaState& state) {
  if (state.count < 0) throw core::Error("swa state: negative count");
  std::map<std::string, torch::Tensor> loaded;
  if (state.count > 0) {
    if (state.tensors.size() != names_.size())
      throw core::Error("swa state: " + std::to_string(state.tensors.size()) + " averages for " +
                        std::to_string(names_.size()) + " parameters");
    for (const auto& name : names_) {
      const auto it = state.tensors.find(name);
      if (it == state.tensors.end()) throw core::Error("swa state: no average of '" + name + "'");
      loaded[name] = it->second.clone();
    }
  }
  average_ = std::move(loaded);
  count_ = state.count;
}

void update_batch_norm(torch::nn::Module& model, const std::function<void()>& run_batches) {
  struct Saved {
    torch::nn::BatchNormOptions* options;
    c10::optional<double> momentum;
  };
  std::vector<Saved> saved;
  torch::NoGradGuard no_grad;
  for (const auto& m : model.modules(/*include_self=*/true)) {
    torch::nn::BatchNormOptions* options = nullptr;
    torch::Tensor mean, var, tracked;
    const auto take = [&](auto* bn) {
      if (!bn) return;
      options = &bn->options;
      mean = bn->running_mean;
      var = bn->running_var;
      tracked = bn->num_batches_tracked;
    };
    take(m->as<torch::nn::BatchNorm1d>());
    take(m->as<torch::nn::BatchNorm2d>());
    take(m->as<torch::nn::BatchNorm3d>());
    if (!options || !options->track_running_stats()) continue;
    mean.zero_();
    var.fill_(1.0);
    tracked.zero_();
    saved.push_back({options, options->momentum()});
    options->momentum(c10::nullopt);  // cumulative average: factor 1 / num_batches_tracked
  }
  if (saved.empty()) return;
  const bool was_training = model.is_training();
  model.train(true);
  try {
    run_batches();
  } catch (...) {
    for (auto& s : saved) s.options->momentum(s.momentum);
    model.train(was_training);
    throw;
  }
  for (auto& s : saved) s.options->momentum(s.momentum);
  model.train(was_training);
}

void update_batch_norm(torch::nn::Module& model, const std::vector<torch::Tensor>& batches,
                       const std::function<void(const torch::Tensor&)>& forward_fn) {
  std::optional<torch::Device> device;
  for (const auto& p : model.parameters()) {
    device = p.device();
    break;
  }
  update_batch_norm(model, [&] {
    for (const auto& b : batches) forward_fn(device ? b.to(*device) : b);
  });
}

}  // namespace ptx::train

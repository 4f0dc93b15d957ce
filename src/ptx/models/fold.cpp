#include "ptx/models/fold.h"

#include "ptx/core/error.h"

namespace ptx::models {
namespace nn = torch::nn;

nn::Conv2d fold_batch_norm_into(const nn::Conv2d& conv, const nn::BatchNorm2d& bn) {
  if (!bn->running_mean.defined() || !bn->running_var.defined())
    throw core::Error("batch-norm folding needs running statistics (track_running_stats)");
  torch::NoGradGuard no_grad;
  const auto& w = conv->weight;
  const auto mean = bn->running_mean.to(torch::kDouble), var = bn->running_var.to(torch::kDouble);
  auto scale = 1.0 / torch::sqrt(var + bn->options.eps());
  if (bn->weight.defined()) scale = scale * bn->weight.to(torch::kDouble);
  const auto shift = bn->bias.defined() ? bn->bias.to(torch::kDouble) : torch::zeros_like(mean);
  const auto old_bias = conv->bias.defined() ? conv->bias.to(torch::kDouble) : torch::zeros_like(mean);

  const auto& o = conv->options;
  nn::Conv2d folded(nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                        .stride(o.stride())
                        .padding(o.padding())
                        .dilation(o.dilation())
                        .groups(o.groups())
                        .padding_mode(o.padding_mode())
                        .bias(true));
  folded->to(w.device(), w.scalar_type());
  folded->train(conv->is_training());
  folded->weight.copy_(w.to(torch::kDouble) * scale.reshape({-1, 1, 1, 1}));
  folded->bias.copy_(shift + (old_bias - mean) * scale);
  return folded;
}

torch::Tensor batch_norm_unless_folded(nn::BatchNorm2d& bn, const torch::Tensor& x) {
  return bn ? bn->forward(x) : x;
}

void fold_registered_pair(nn::Module& parent, nn::Conv2d& conv, const std::string& conv_name, nn::BatchNorm2d& bn,
                          const std::string& bn_name) {
  if (!bn) return;  // already folded
  conv = parent.replace_module(conv_name, fold_batch_norm_into(conv, bn));
  parent.unregister_module(bn_name);
  bn = nullptr;
}

nn::Sequential fold_sequential(const nn::Sequential& seq) {
  nn::Sequential out;
  out->train(seq->is_training());
  const std::vector<nn::AnyModule> children(seq->begin(), seq->end());
  const size_t n = children.size();
  for (size_t i = 0; i < n; ++i) {
    auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(children[i].ptr());
    if (conv && i + 1 < n) {
      if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(children[i + 1].ptr())) {
        out->push_back(fold_batch_norm_into(nn::Conv2d(conv), nn::BatchNorm2d(bn)));
        ++i;  // the batch norm is dropped
        continue;
      }
    }
    out->push_back(children[i]);
  }
  return out;
}

void to_channels_last(nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

void prepare_for_inference(ModelImpl& model, bool channels_last) {
  model.eval();
  model.fold_batch_norm();
  model.eval();  // the new convolutions too
  if (channels_last) to_channels_last(model);
}

}  // namespace ptx::models

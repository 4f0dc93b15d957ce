// The common base of every model ptx builds: a module whose forward(x) returns logits.
#pragma once
#include <torch/torch.h>

#include <memory>

namespace ptx::models {

// A segmentation model returns per-pixel logits (N x classes x H x W, the input's size); a
// classifier returns N x classes logits. No activation is applied: losses and predictors do that.
// Abstract, so it has no TORCH_MODULE holder: models are passed as ModelPtr.
// What forward_all returns: the logits, and the auxiliary head's N x classes logits (whether the
// image has any positive pixel) when the model has one, else an undefined tensor.
struct ModelOutput {
  torch::Tensor logits;
  torch::Tensor aux_logits;
};

class ModelImpl : public torch::nn::Module {
 public:
  ~ModelImpl() override = default;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // forward(x) plus the auxiliary head's output; models without one return {forward(x), {}}.
  virtual ModelOutput forward_all(const torch::Tensor& x) { return {forward(x), {}}; }

  // Inference only: folds every batch norm into the convolution before it and removes the
  // batch-norm modules (see fold.h), so eval-mode outputs stay the same (to float rounding) and
  // one pass over each feature map is saved. The model cannot be trained afterwards. Models that
  // cannot fold throw ptx::core::Error (the default).
  virtual void fold_batch_norm();
};
using ModelPtr = std::shared_ptr<ModelImpl>;

}  // namespace ptx::models

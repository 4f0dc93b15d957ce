// torch::optim::Adam with its update in one pass over each parameter: LibTorch's Adam (as
// PyTorch's on the CPU) makes six passes and a temporary per parameter tensor, about a sixth of a
// U-Net ResNet34 training step at 256 px on 2 cores. The same formula, the same state
// (AdamParamState, so checkpoints and --resume are unchanged) and LibTorch's own step where the
// one-pass loop does not apply (amsgrad, GPU tensors, other dtypes or layouts).
#pragma once
#include <torch/torch.h>

namespace ptx::train {

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace ptx::train

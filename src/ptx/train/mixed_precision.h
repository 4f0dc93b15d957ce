// Mixed precision training (`precision: bf16`): while an Autocast is alive, the forward pass runs
// its convolutions and matrix products in bfloat16 (LibTorch's autocast, as torch.autocast does
// in Python), weights and optimiser state staying in fp32. bfloat16 has fp32's range, so no loss
// scaling is needed. On CPUs with AMX or AVX-512-BF16, and on GPUs, it is several times faster.
#pragma once
#include <torch/torch.h>

namespace ptx::train {

class Autocast {
 public:
  Autocast(const torch::Device& device, bool enabled);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool enabled_, cuda_, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

}  // namespace ptx::train

// Model size and compute: parameter counts and the multiply-accumulates (MACs) of a forward pass.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace ptx::models {

int64_t count_parameters(const torch::nn::Module& module);

// Multiply-accumulates of the convolutions and linear layers in one forward pass of `forward`
// on a zero input of input_shape, counted from the operators it runs with their shapes as
// executed (aten::convolution, aten::linear, and matrix products outside those), not from a
// table. Runs without gradients on this thread; the caller decides train/eval mode (it does not
// change the count). Batch norm, activations, pooling and upsampling are not counted, as in the
// usual GMAC figures. Needs a Release (NDEBUG) build of ptx; otherwise throws ptx::core::Error.
int64_t count_macs(const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                   torch::IntArrayRef input_shape, const torch::TensorOptions& options = {});

}  // namespace ptx::models

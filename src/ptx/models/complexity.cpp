#include "ptx/models/complexity.h"

#include <ATen/record_function.h>

#include <cstring>

#include "ptx/core/error.h"

namespace ptx::models {

namespace {

int64_t product(c10::IntArrayRef v) {
  int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

// aten::convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
int64_t convolution_macs(c10::ArrayRef<const c10::IValue> in) {
  if (in.size() < 9 || !in[0].isTensor() || !in[1].isTensor()) return 0;
  const auto input = in[0].toTensor().sizes();
  const auto weight = in[1].toTensor().sizes();
  const auto kernel = weight.slice(2);
  if (in[6].toBool()) {
    // Transposed: every input element meets (out / groups) x kernel weights.
    return product(input) * weight[1] * product(kernel);
  }
  const auto stride = in[3].toIntVector(), padding = in[4].toIntVector(), dilation = in[5].toIntVector();
  int64_t out_spatial = 1;
  for (size_t d = 0; d < kernel.size(); ++d) {
    const int64_t s = stride.size() > d ? stride[d] : stride.at(0);
    const int64_t p = padding.size() > d ? padding[d] : padding.at(0);
    const int64_t dl = dilation.size() > d ? dilation[d] : dilation.at(0);
    out_spatial *= (input[2 + d] + 2 * p - dl * (kernel[d] - 1) - 1) / s + 1;
  }
  // N x out_channels x out_spatial outputs, each (in_channels / groups) x kernel MACs.
  return input[0] * weight[0] * out_spatial * weight[1] * product(kernel);
}

// aten::linear(input, weight, bias): every input row meets every output feature.
int64_t linear_macs(c10::ArrayRef<const c10::IValue> in) {
  if (in.size() < 2 || !in[0].isTensor() || !in[1].isTensor()) return 0;
  return in[0].toTensor().numel() * in[1].toTensor().size(0);
}

// aten::mm / bmm / matmul (a, b) and aten::addmm (bias, a, b): out elements x inner size.
int64_t matmul_macs(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() == 0 || b.dim() == 0) return 0;
  const int64_t k = a.size(-1);
  const int64_t rows = a.numel() / k;                          // a's batch x n
  const int64_t m = b.dim() == 1 ? 1 : b.size(-1);
  const int64_t b_batch = b.dim() <= 2 ? 1 : b.numel() / (k * m);
  const int64_t a_batch = a.dim() <= 2 ? 1 : a.numel() / (a.size(-2) * k);
  // Broadcasting b's batch over a's rows when a has none of its own.
  return rows * k * m * (a_batch == 1 ? b_batch : 1);
}

bool is(const char* name, const char* op) { return std::strcmp(name, op) == 0; }

// The operators counted; an operator running inside a counted one (addmm inside linear,
// mkldnn_convolution inside convolution) is not counted again.
struct CountState {
  int64_t macs = 0;
  int depth = 0;  // counted operators currently running
};
thread_local CountState* g_state = nullptr;

// Marks, for the exit callback, an operator that was counted.
struct Counted : at::ObserverContext {};

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  if (g_state == nullptr || g_state->depth > 0) return nullptr;
  const char* name = fn.name();
  const auto in = fn.inputs();
  int64_t macs = -1;
  if (is(name, "aten::convolution")) {
    macs = convolution_macs(in);
  } else if (is(name, "aten::linear")) {
    macs = linear_macs(in);
  } else if (is(name, "aten::mm") || is(name, "aten::bmm") || is(name, "aten::matmul")) {
    macs = in.size() >= 2 && in[0].isTensor() && in[1].isTensor() ? matmul_macs(in[0].toTensor(), in[1].toTensor()) : 0;
  } else if (is(name, "aten::addmm") || is(name, "aten::baddbmm")) {
    macs = in.size() >= 3 && in[1].isTensor() && in[2].isTensor() ? matmul_macs(in[1].toTensor(), in[2].toTensor()) : 0;
  }
  if (macs < 0) return nullptr;
  g_state->macs += macs;
  ++g_state->depth;
  return std::make_unique<Counted>();
}

void on_exit(const at::RecordFunction& /*fn*/, at::ObserverContext* counted) {
  if (g_state != nullptr && counted != nullptr) --g_state->depth;
}

// Installs the counting callbacks on this thread for its lifetime.
class MacCounter {
 public:
  explicit MacCounter(CountState* state) {
    g_state = state;
    handle_ = at::addThreadLocalCallback(
        at::RecordFunctionCallback(&on_enter, &on_exit).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
  }
  ~MacCounter() {
    at::removeCallback(handle_);
    g_state = nullptr;
  }
  MacCounter(const MacCounter&) = delete;
  MacCounter& operator=(const MacCounter&) = delete;

 private:
  at::CallbackHandle handle_;
};

}  // namespace

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

int64_t count_macs(const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                   torch::IntArrayRef input_shape, const torch::TensorOptions& options) {
#ifndef NDEBUG
  // RecordFunction::inputs() asserts a flag only a debug build of LibTorch sets.
  throw core::Error("count_macs needs ptx built with NDEBUG (a Release build): LibTorch's operator "
                    "inputs cannot be read from a debug build against a release LibTorch");
#endif
  if (g_state != nullptr) throw core::Error("count_macs: already counting on this thread");
  torch::NoGradGuard no_grad;
  const auto x = torch::zeros(input_shape, options);
  CountState state;
  {
    MacCounter counter(&state);
    forward(x);
  }
  return state.macs;
}

}  // namespace ptx::models

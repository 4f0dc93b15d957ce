// Reference outputs from Debian's python3-torch/torchvision, made at test time: a suite runs its
// Python script once (it writes one .pt file per network: the state_dict as a plain dict plus
// "__input__" and "__output__"), then each test loads a file into the matching ptx model and
// compares eval-mode outputs. The interpreter is /usr/bin/python3 or $PTX_REFERENCE_PYTHON.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "test_support.h"

namespace ptx::test {

struct PythonReference {
  TempDir dir;
  std::string skip_reason;  // Python or torchvision absent: tests skip with this message
  std::string failure;      // the script failed: tests fail with its output
};

// Runs `script` as `python script OUT_DIR` (about 3 s per run; call it from SetUpTestSuite).
std::unique_ptr<PythonReference> run_python_reference(const char* script);

// Prepends the shared Python definitions (imports; `randomize_and_save(name, m, input_shape)`,
// which gives every batch norm non-trivial affine weights and running statistics, runs the
// model in eval mode and saves weights, input and output) to a suite's own script.
std::string with_reference_prelude(const std::string& script);

// Loads reference `name` into `model` (strictly: parameters and buffers) and expects forward's
// output within `tolerance` of Python's; also checks that the buffers matter for the result.
void expect_parity(const PythonReference& reference, const std::string& name, torch::nn::Module& model,
                   const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                   double tolerance = 1e-4);

}  // namespace ptx::test

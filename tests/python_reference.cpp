#include "python_reference.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "ptx/models/weights.h"

namespace ptx::test {

namespace {

constexpr const char* kPrelude = R"PY(
import sys, torch, torch.nn as nn, torch.nn.functional as F, torchvision

OUT = sys.argv[1]

def randomize_and_save(name, m, input_shape=(1, 3, 64, 64)):
    """Random batch-norm affine weights and running statistics (averaged over three training
    batches), then the eval-mode output of a random input; saved as a plain dict."""
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(4, *input_shape[1:]))
    m.eval()
    x = torch.randn(*input_shape)
    with torch.no_grad():
        y = m(x)
    d = {k: v for k, v in m.state_dict().items()}
    d["__input__"] = x
    d["__output__"] = y
    torch.save(d, OUT + "/" + name + ".pt", _use_new_zipfile_serialization=True)
)PY";

std::string reference_python() {
  const char* env = std::getenv("PTX_REFERENCE_PYTHON");
  return env ? env : "/usr/bin/python3";
}

}  // namespace

std::string with_reference_prelude(const std::string& script) { return kPrelude + script; }

std::unique_ptr<PythonReference> run_python_reference(const char* script) {
  auto ref = std::make_unique<PythonReference>();
  const std::string file = ref->dir / "make_references.py", log = ref->dir / "log";
  std::ofstream(file) << script;
  const std::string python = reference_python();
  if (std::system((python + " -c 'import torch, torchvision' >" + log + " 2>&1").c_str()) != 0) {
    ref->skip_reason = python + " cannot import torch and torchvision (Debian: python3-torchvision): parity skipped";
    return ref;
  }
  const std::string cmd = python + " " + file + " " + ref->dir.path().string() + " >" + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in(log);
    ref->failure = "the Python reference script failed: " +
                   std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return ref;
}

void expect_parity(const PythonReference& reference, const std::string& name, torch::nn::Module& model,
                   const std::function<torch::Tensor(const torch::Tensor&)>& forward, double tolerance) {
  if (!reference.skip_reason.empty()) GTEST_SKIP() << reference.skip_reason;
  ASSERT_TRUE(reference.failure.empty()) << reference.failure;
  auto tensors = models::read_tensor_dict(reference.dir / (name + ".pt"));
  const auto x = tensors.at("__input__"), expected = tensors.at("__output__");
  tensors.erase("__input__");
  tensors.erase("__output__");
  model.eval();
  torch::NoGradGuard no_grad;

  // Parameters alone do not reproduce the reference: the batch-norm statistics matter.
  auto params_only = tensors;
  for (const auto& b : model.named_buffers()) params_only.erase(b.key());
  const auto partial = models::load_named_tensors(model, params_only, /*strict=*/false);
  EXPECT_EQ(partial.missing.size(), model.named_buffers().size());
  const double diff_without_buffers = (forward(x) - expected).abs().max().item<double>();
  if (!model.named_buffers().is_empty()) {
    EXPECT_GT(diff_without_buffers, 1e-2) << "the reference does not exercise the buffers";
  }

  const auto report = models::load_named_tensors(model, tensors);  // strict: every name matches
  EXPECT_TRUE(report.complete()) << report.describe();
  EXPECT_EQ(report.loaded, tensors.size());

  const auto y = forward(x);
  ASSERT_EQ(y.sizes(), expected.sizes());
  const double diff = (y - expected).abs().max().item<double>();
  ::testing::Test::RecordProperty("max_abs_diff", std::to_string(diff));
  std::cout << "[ parity   ] " << name << ": max |ptx - python| = " << diff << " (output scale "
            << expected.abs().max().item<double>() << "; without the buffers " << diff_without_buffers << ")\n";
  EXPECT_LE(diff, tolerance) << name;
}

}  // namespace ptx::test

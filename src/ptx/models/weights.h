// Named tensors (parameters and batch-norm buffers) into and out of modules.
// The base of weight import: a plain dict of tensors through LibTorch's own unpickler, and a strict
// by-name copy into a module. The rest lives beside it:
//   weight_file.h       any weight file (torch.save state_dicts and checkpoints, .safetensors)
//   torch_file.h        torch.save files read and written by ptx's own pickle code (pickle.h)
//   safetensors.h       the .safetensors format
//   state_dict_import.h foreign names into ptx models (module. prefixes, ImageNet encoders)
//   checkpoint.h        ptx checkpoints (weights + spec + training state), build_model_from_checkpoint
#pragma once
#include <torch/torch.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace ptx::models {

using NamedTensors = std::map<std::string, torch::Tensor>;

// Reads a zip-format torch.save file holding a plain dict {str: Tensor}, e.g. written by
// torch.save({k: v for k, v in model.state_dict().items()}, path). Throws ptx::core::Error naming
// the file when it is missing, not such a dict, or holds something other than tensors.
NamedTensors read_tensor_dict(const std::string& path);

// Writes tensors the same way (a zip file torch.load reads back as a dict).
void write_tensor_dict(const std::string& path, const NamedTensors& tensors);

struct LoadReport {
  std::size_t loaded = 0;               // tensors copied
  std::vector<std::string> missing;     // in the module, not in the tensors
  std::vector<std::string> unexpected;  // in the tensors, not in the module
  std::vector<std::string> mismatched;  // "name: file [a, b] vs model [c, d]"
  bool complete() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // One line: the counts and the first few names of each kind.
  std::string describe() const;
  // "; 2 missing: a, b; 1 unexpected: c" (empty when complete).
  std::string problems() const;
};

// Copies tensors into the module's parameters AND buffers (running_mean, running_var,
// num_batches_tracked) by their full names, converting dtype and moving to the module's device.
// strict: any missing, unexpected or mis-shaped name is an Error listing them, and nothing is
// copied. Not strict: copies what matches and reports the rest.
LoadReport load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors, bool strict = true);

// A pretrained first-convolution weight (out x 3 x kh x kw) for an input of in_channels, as
// segmentation_models does: for 1 channel the sum over RGB (a grey image replicated to RGB gives
// the same response); otherwise channel i takes RGB channel i % 3, scaled by 3 / in_channels.
torch::Tensor adapt_input_channels(const torch::Tensor& weight, int64_t in_channels);

// The module's parameters and buffers by name (detached, sharing storage).
NamedTensors named_tensors(const torch::nn::Module& module);

}  // namespace ptx::models

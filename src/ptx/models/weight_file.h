// Any weight file ptx accepts, read into named tensors: what the file is, where in it the
// weights were, and the model spec when the file carries one.
//
// Formats: zip and legacy torch.save files (.pth, .pt, .bin; torch_file.h) and .safetensors
// (recognised by content, whatever the extension). Layouts inside a torch.save file:
//   - a bare state_dict: a dict (or OrderedDict) whose values are all tensors;
//   - a training checkpoint: a dict holding the state_dict under "state_dict",
//     "model_state_dict", "model" or "net" (the first that is a dict of tensors); other entries
//     (epoch, optimizer, numpy scalars, argparse namespaces ...) are ignored;
//   - a whole module pickled by torch.save(model), alone or under one of those keys: its
//     state_dict is gathered from the pickled _parameters, _buffers and _modules (the classes
//     are never needed);
//   - a ptx checkpoint (checkpoint.h): {"format": "ptx-checkpoint", "version": 1, "spec": json,
//     "state_dict": {...}, "train_state": None | {"tensors": {...}, "json": str}}.
// Names are returned as stored: a DataParallel "module." prefix is removed later, by the import
// (state_dict_import.h).
#pragma once
#include <map>
#include <string>

#include "ptx/models/weights.h"

namespace ptx::models {

struct WeightFile {
  std::string path;
  std::string format;    // "torch.save zip", "torch.save legacy" or "safetensors"
  std::string location;  // where the tensors were: "" (the file itself), "state_dict", "model", ...
  NamedTensors tensors;
  std::string spec_json;  // the model spec of a ptx checkpoint or export, else ""
  bool has_train_state = false;
  NamedTensors train_tensors;  // a ptx checkpoint's training state
  std::string train_json;
  std::map<std::string, std::string> metadata;  // a .safetensors file's __metadata__
};

// Throws ptx::core::Error naming the file: unreadable, or no state_dict found (the message lists
// the top-level keys), or a state_dict entry that is not a tensor.
WeightFile read_weights(const std::string& path);

// The keys tried, in order, for a state_dict inside a checkpoint dict.
const std::vector<std::string>& checkpoint_state_dict_keys();

// The number of parameters: the elements of every tensor except batch-norm buffers (names ending
// in running_mean, running_var, num_batches_tracked), as Python's sum(p.numel() for p in
// model.parameters()) counts them.
int64_t parameter_count(const NamedTensors& tensors);

}  // namespace ptx::models

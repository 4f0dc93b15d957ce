// ptx's own checkpoint: the weights, the model spec and an optional training state in one file,
// so that a model can be rebuilt from the file alone.
//
// The file is a zip-format torch.save file that Python reads with torch.load:
//   {"format": "ptx-checkpoint", "version": 1,
//    "spec": "<ModelSpec JSON>",               # registry.h's to_json, as a string
//    "state_dict": OrderedDict{name: tensor},  # parameters and buffers, model.load_state_dict-ready
//    "train_state": None or {"tensors": {name: tensor}, "json": "<free-form JSON>"}}
// The training state is for the trainer (optimiser moments, scheduler, epoch): ptx stores it as
// given. Files are written atomically. A .safetensors export holds the state_dict and, in
// __metadata__, "ptx_spec" (the spec JSON) and "format": "pt"; it carries no training state.
#pragma once
#include <optional>
#include <string>

#include "ptx/models/model.h"
#include "ptx/models/registry.h"
#include "ptx/models/weights.h"

namespace ptx::models {

struct TrainState {
  NamedTensors tensors;
  std::string json;  // "" or a JSON document
};

struct Checkpoint {
  ModelSpec spec;
  NamedTensors state_dict;
  std::optional<TrainState> train_state;
};

// The model's parameters and buffers (on the CPU) with its spec.
Checkpoint make_checkpoint(const ModelImpl& model, const ModelSpec& spec, std::optional<TrainState> train_state = {});

// Writes the ptx checkpoint format above.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Writes the state_dict and the spec as .safetensors (the training state is left out).
void export_safetensors(const std::string& path, const Checkpoint& checkpoint);

// Reads a ptx checkpoint or a ptx .safetensors export. Throws ptx::core::Error naming the file
// when it has no spec (a plain state_dict: convert it with `ptx weights convert --spec`).
Checkpoint load_checkpoint(const std::string& path);

// build_model(spec) with the checkpoint's weights loaded strictly, moved to `device`, in eval
// mode. spec_out, when given, receives the spec.
ModelPtr build_model_from_checkpoint(const std::string& path, const torch::Device& device = torch::kCPU,
                                     ModelSpec* spec_out = nullptr);

// A spec from JSON text; errors name `what` (a file or "--spec").
ModelSpec parse_spec(const std::string& text, const std::string& what);

}  // namespace ptx::models

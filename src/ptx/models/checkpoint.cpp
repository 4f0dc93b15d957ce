#include "ptx/models/checkpoint.h"

#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/models/safetensors.h"
#include "ptx/models/torch_file.h"
#include "ptx/models/weight_file.h"

namespace ptx::models {

namespace {

using pickle::Value;
using pickle::ValuePtr;

ValuePtr tensor_dict(const NamedTensors& tensors, bool ordered) {
  auto d = Value::dict(ordered);
  for (const auto& [k, t] : tensors) d->set(k, Value::of_tensor(t));
  return d;
}

}  // namespace

ModelSpec parse_spec(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(what + ": the model spec is not valid JSON (" + e.what() + ")");
  }
  try {
    return j.get<ModelSpec>();
  } catch (const core::Error& e) {
    throw core::Error(what + ": " + e.what());
  }
}

Checkpoint make_checkpoint(const ModelImpl& model, const ModelSpec& spec, std::optional<TrainState> train_state) {
  Checkpoint c;
  c.spec = spec;
  for (auto& [k, t] : named_tensors(model)) c.state_dict.emplace(k, t.to(torch::kCPU));
  c.train_state = std::move(train_state);
  return c;
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  Value root;
  root.kind = pickle::Kind::Dict;
  root.set("format", Value::str("ptx-checkpoint"));
  root.set("version", Value::integer(1));
  root.set("spec", Value::str(nlohmann::json(checkpoint.spec).dump()));
  root.set("state_dict", tensor_dict(checkpoint.state_dict, /*ordered=*/true));
  if (checkpoint.train_state) {
    auto ts = Value::dict();
    ts->set("tensors", tensor_dict(checkpoint.train_state->tensors, false));
    ts->set("json", Value::str(checkpoint.train_state->json));
    root.set("train_state", ts);
  } else {
    root.set("train_state", Value::none());
  }
  write_torch_file(path, root);
}

void export_safetensors(const std::string& path, const Checkpoint& checkpoint) {
  write_safetensors(path, checkpoint.state_dict,
                    {{"format", "pt"}, {"ptx_spec", nlohmann::json(checkpoint.spec).dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  auto w = read_weights(path);
  if (w.spec_json.empty())
    throw core::Error(path + ": no model spec in this file (not a ptx checkpoint); make one with "
                             "`ptx weights convert " + path + " OUT.pth --spec SPEC`");
  Checkpoint c;
  c.spec = parse_spec(w.spec_json, path);
  c.state_dict = std::move(w.tensors);
  if (w.has_train_state) c.train_state = TrainState{std::move(w.train_tensors), std::move(w.train_json)};
  return c;
}

ModelPtr build_model_from_checkpoint(const std::string& path, const torch::Device& device, ModelSpec* spec_out) {
  const auto c = load_checkpoint(path);
  auto model = build_model(c.spec);
  try {
    load_named_tensors(*model, c.state_dict, /*strict=*/true);
  } catch (const core::Error& e) {
    throw core::Error(path + ": the weights do not fit the model its spec describes: " + e.what());
  }
  model->to(device);
  model->eval();
  if (spec_out) *spec_out = c.spec;
  return model;
}

}  // namespace ptx::models

#include "ptx/models/weight_file.h"

#include <algorithm>
#include <fstream>

#include "ptx/core/error.h"
#include "ptx/models/safetensors.h"
#include "ptx/models/torch_file.h"

namespace ptx::models {

namespace {

using pickle::Kind;
using pickle::ValuePtr;

bool is_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, sizeof head);
  if (in.gcount() < 9) return false;
  // An 8-byte little-endian length whose top bytes are zero, then the JSON object.
  return head[8] == '{' && head[6] == 0 && head[7] == 0;
}

bool all_tensors(const pickle::Value& d) {
  if (!d.is(Kind::Dict)) return false;
  for (const auto& [k, v] : d.entries)
    if (!k->is(Kind::Str) || !v->is(Kind::Tensor)) return false;
  return true;
}

NamedTensors tensor_dict(const pickle::Value& d, const std::string& path, const std::string& where) {
  NamedTensors out;
  for (const auto& [k, v] : d.entries) {
    if (!k->is(Kind::Str)) throw core::Error(path + ": " + where + " has a key that is not a string (" + k->type_name() + ")");
    if (!v->is(Kind::Tensor))
      throw core::Error(path + ": " + where + "['" + k->s + "'] is a " + v->type_name() +
                        ", not a tensor; save the weights as {name: tensor} (model.state_dict())");
    if (!out.emplace(k->s, v->tensor).second) throw core::Error(path + ": " + where + " names '" + k->s + "' twice");
  }
  return out;
}

std::string describe_keys(const pickle::Value& d) {
  std::string s;
  std::size_t n = 0;
  for (const auto& [k, v] : d.entries) {
    if (n++ == 12) {
      s += ", ...";
      break;
    }
    s += (s.empty() ? "" : ", ") + (k->is(Kind::Str) ? k->s : k->type_name()) + " (" + v->type_name() + ")";
  }
  return s.empty() ? "none" : s;
}

// A whole module pickled by torch.save(model): an object whose state (its __dict__) holds
// _parameters, _buffers and _modules; the state_dict is gathered from them as Module.state_dict
// does (non-persistent buffers left out). False when `obj` is not such an object.
bool pickled_module_tensors(const pickle::Value& obj, const std::string& prefix, NamedTensors& out, int depth = 0) {
  if (depth > 64 || !obj.is(Kind::Object) || obj.items.empty() || !obj.items.back()->is(Kind::Dict)) return false;
  const auto& state = *obj.items.back();
  const auto params = state.get("_parameters"), buffers = state.get("_buffers"), modules = state.get("_modules");
  if (!params || !params->is(Kind::Dict) || !modules || !modules->is(Kind::Dict)) return false;
  std::vector<std::string> non_persistent;
  if (const auto np = state.get("_non_persistent_buffers_set"); np && np->is(Kind::Object) && !np->items.empty() &&
                                                                   np->items[0]->is(Kind::List))
    for (const auto& n : np->items[0]->items)
      if (n->is(Kind::Str)) non_persistent.push_back(n->s);
  for (const auto& [k, v] : params->entries)
    if (k->is(Kind::Str) && v->is(Kind::Tensor)) out.emplace(prefix + k->s, v->tensor);
  if (buffers && buffers->is(Kind::Dict))
    for (const auto& [k, v] : buffers->entries)
      if (k->is(Kind::Str) && v->is(Kind::Tensor) &&
          std::find(non_persistent.begin(), non_persistent.end(), k->s) == non_persistent.end())
        out.emplace(prefix + k->s, v->tensor);
  for (const auto& [k, v] : modules->entries)
    if (k->is(Kind::Str) && !v->is(Kind::None) && !pickled_module_tensors(*v, prefix + k->s + ".", out, depth + 1)) return false;
  return true;
}

void read_ptx_checkpoint(const pickle::Value& root, WeightFile& w) {
  const auto version = root.get("version");
  if (!version || !version->is(Kind::Int)) throw core::Error(w.path + ": a ptx checkpoint without a version");
  if (version->i > 1)
    throw core::Error(w.path + ": a ptx checkpoint of version " + std::to_string(version->i) +
                      ", written by a newer ptx; update ptx to read it");
  const auto spec = root.get("spec");
  const auto sd = root.get("state_dict");
  if (!spec || !spec->is(Kind::Str) || !sd || !sd->is(Kind::Dict))
    throw core::Error(w.path + ": a ptx checkpoint without spec or state_dict: corrupt file");
  w.spec_json = spec->s;
  w.location = "state_dict";
  w.tensors = tensor_dict(*sd, w.path, "state_dict");
  const auto train = root.get("train_state");
  if (train && train->is(Kind::Dict)) {
    w.has_train_state = true;
    if (const auto t = train->get("tensors"); t && t->is(Kind::Dict)) w.train_tensors = tensor_dict(*t, w.path, "train_state.tensors");
    if (const auto j = train->get("json"); j && j->is(Kind::Str)) w.train_json = j->s;
  }
}

}  // namespace

const std::vector<std::string>& checkpoint_state_dict_keys() {
  static const std::vector<std::string> keys{"state_dict", "model_state_dict", "model", "net"};
  return keys;
}

WeightFile read_weights(const std::string& path) {
  WeightFile w;
  w.path = path;
  if (!std::ifstream(path)) throw core::Error(path + ": cannot open the weights file; check the path");
  if (is_safetensors(path) || has_safetensors_extension(path)) {
    auto f = read_safetensors(path);
    w.format = "safetensors";
    w.tensors = std::move(f.tensors);
    w.metadata = std::move(f.metadata);
    if (const auto it = w.metadata.find("ptx_spec"); it != w.metadata.end()) w.spec_json = it->second;
    return w;
  }
  const auto root = read_torch_file(path);
  w.format = "torch.save";
  if (root->is(Kind::Object) && pickled_module_tensors(*root, "", w.tensors) && !w.tensors.empty()) {
    w.location = "(a pickled " + root->s + ")";
    return w;
  }
  if (!root->is(Kind::Dict))
    throw core::Error(path + ": holds a " + root->type_name() +
                      ", not a state_dict; save model.state_dict() (not the model itself) with torch.save");
  if (const auto fmt = root->get("format"); fmt && fmt->is(Kind::Str) && fmt->s == "ptx-checkpoint") {
    read_ptx_checkpoint(*root, w);
    return w;
  }
  if (all_tensors(*root) && !root->entries.empty()) {
    w.tensors = tensor_dict(*root, path, "the state_dict");
    return w;
  }
  for (const auto& key : checkpoint_state_dict_keys()) {
    const auto v = root->get(key);
    if (!v) continue;
    if (v->is(Kind::Dict) && !v->entries.empty() && all_tensors(*v)) {
      w.location = key;
      w.tensors = tensor_dict(*v, path, key);
      return w;
    }
    if (v->is(Kind::Object) && pickled_module_tensors(*v, "", w.tensors) && !w.tensors.empty()) {
      w.location = key + " (a pickled " + v->s + ")";
      return w;
    }
    if (v->is(Kind::Object))
      throw core::Error(path + ": '" + key + "' is a whole pickled " + v->s +
                        "; save its state_dict() instead (torch.save(model.state_dict(), path))");
  }
  // A state_dict with a non-tensor entry: say which.
  for (const auto& key : checkpoint_state_dict_keys())
    if (const auto v = root->get(key); v && v->is(Kind::Dict) && !v->entries.empty()) tensor_dict(*v, path, key);
  throw core::Error(path + ": no state_dict found (top-level keys: " + describe_keys(*root) +
                    "); expected a dict of tensors, or a checkpoint holding one under state_dict, "
                    "model_state_dict, model or net");
}

int64_t parameter_count(const NamedTensors& tensors) {
  const auto ends_with = [](const std::string& s, const std::string& end) {
    return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
  };
  int64_t n = 0;
  for (const auto& [name, t] : tensors)
    if (!ends_with(name, "running_mean") && !ends_with(name, "running_var") && !ends_with(name, "num_batches_tracked"))
      n += t.numel();
  return n;
}

}  // namespace ptx::models

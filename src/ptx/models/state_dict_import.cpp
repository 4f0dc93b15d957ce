#include "ptx/models/state_dict_import.h"

#include <algorithm>
#include <regex>
#include <set>

#include "ptx/core/error.h"

namespace ptx::models {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string first_component(const std::string& name) { return name.substr(0, name.find('.')); }

std::set<std::string> names_of(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) out.insert(p.key());
  for (const auto& b : m.named_buffers()) out.insert(b.key());
  return out;
}

std::set<std::string> children_of(const torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& c : m.named_children()) out.insert(c.key());
  return out;
}

std::size_t hits(const NamedTensors& t, const std::set<std::string>& names, const std::string& add, const std::string& remove) {
  std::size_t n = 0;
  for (const auto& kv : t) {
    if (!remove.empty() && !starts_with(kv.first, remove)) continue;
    n += names.count(add + kv.first.substr(remove.size()));
  }
  return n;
}

std::string sample(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t k = 0; k < v.size() && k < 3; ++k) s += (k ? ", " : "") + v[k];
  return s;
}

std::vector<std::string> prefixed(const std::vector<std::string>& v, const std::string& p) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(p + s);
  return out;
}

// Names that older releases of the source networks used for the same tensors.
struct LegacyRename {
  std::regex pattern;
  const char* replacement;
};
const std::vector<LegacyRename>& legacy_renames() {
  static const std::vector<LegacyRename> rules{
      // torchvision's DenseNet ImageNet files: "denselayer1.norm.1.weight" for "denselayer1.norm1.weight".
      {std::regex(R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$)"), "$1$2"},
  };
  return rules;
}

}  // namespace

std::string ImportReport::describe() const {
  std::string s = std::to_string(load.loaded) + " tensors loaded (" + mapping;
  if (!stripped_prefix.empty()) s += ", '" + stripped_prefix + "' removed";
  s += ")";
  if (!adapted.empty()) s += "; adapted " + sample(adapted);
  if (!dropped.empty()) s += "; " + std::to_string(dropped.size()) + " dropped (" + sample(dropped) + (dropped.size() > 3 ? ", ..." : "") + ")";
  if (target == "encoder") s += "; decoder and heads keep their initial weights";
  return s + load.problems();
}

ImportReport import_weights(ModelImpl& model, const ModelSpec& spec, const NamedTensors& tensors,
                            const ImportOptions& options) {
  ImportReport report;
  if (tensors.empty()) throw core::Error("weight import: the file holds no tensors");
  const auto model_names = names_of(model);
  const auto children = children_of(model);
  std::shared_ptr<torch::nn::Module> encoder;
  for (const auto& c : model.named_children())
    if (c.key() == "encoder") encoder = c.value();

  // 1. Wrapper prefixes.
  NamedTensors t = tensors;
  const auto strip = [&](const std::string& prefix) {
    NamedTensors out;
    for (auto& kv : t) out.emplace(kv.first.substr(prefix.size()), kv.second);
    t = std::move(out);
    report.stripped_prefix += prefix;
  };
  const auto all_start_with = [&](const std::string& prefix) {
    for (const auto& kv : t)
      if (!starts_with(kv.first, prefix)) return false;
    return true;
  };
  while (all_start_with("module.")) strip("module.");
  {
    NamedTensors renamed;
    for (auto& [name, tensor] : t) {
      std::string n = name;
      for (const auto& rule : legacy_renames()) n = std::regex_replace(n, rule.pattern, rule.replacement);
      renamed.emplace(std::move(n), tensor);
    }
    t = std::move(renamed);
  }
  const auto best = [&] {
    return std::max({hits(t, model_names, "", ""), encoder ? hits(t, model_names, "encoder.", "") : 0,
                     encoder ? 0 : hits(t, model_names, "", "encoder.")});
  };
  if (best() == 0) {
    const auto p = first_component(t.begin()->first);
    if (p.size() < t.begin()->first.size() && !children.count(p) && all_start_with(p + ".")) strip(p + ".");
  }

  // 2. Mapping.
  const std::size_t as_stored = hits(t, model_names, "", "");
  const std::size_t into_encoder = encoder ? hits(t, model_names, "encoder.", "") : 0;
  const std::size_t from_encoder = encoder ? 0 : hits(t, model_names, "", "encoder.");
  if (std::max({as_stored, into_encoder, from_encoder}) == 0) {
    std::vector<std::string> file_names, wanted(model_names.begin(), model_names.end());
    for (const auto& kv : tensors) file_names.push_back(kv.first);
    throw core::Error("weight import: no tensor name matches the " + spec.arch + " with encoder " + spec.encoder +
                      " (file: " + sample(file_names) + ", ...; model: " + sample(wanted) +
                      ", ...): weights of another architecture or encoder? check --spec");
  }
  torch::nn::Module* target = &model;
  std::string target_prefix;  // of the target's names within the model
  NamedTensors mapped;
  if (into_encoder > as_stored && into_encoder >= from_encoder) {
    report.mapping = "into the encoder";
    report.target = "encoder";
    target = encoder.get();
    target_prefix = "encoder.";
    const auto encoder_children = children_of(*encoder);
    for (auto& kv : t) {
      if (encoder_children.count(first_component(kv.first))) mapped.emplace(kv.first, kv.second);
      else report.dropped.push_back(report.stripped_prefix + kv.first);
    }
  } else if (from_encoder > as_stored) {
    report.mapping = "from a segmentation encoder";
    report.target = "model";
    for (auto& kv : t) {
      if (starts_with(kv.first, "encoder.")) mapped.emplace(kv.first.substr(8), kv.second);
      else report.dropped.push_back(report.stripped_prefix + kv.first);
    }
  } else {
    report.mapping = "as stored";
    report.target = "model";
    mapped = std::move(t);
  }

  // 3. Input channels of the stem.
  const auto target_params = target->named_parameters();
  for (auto& [name, w] : mapped) {
    const auto* p = target_params.find(name);
    if (!p || p->dim() != 4 || w.dim() != 4 || p->size(1) != spec.in_channels || w.size(1) == spec.in_channels) continue;
    if (p->size(0) != w.size(0) || p->size(2) != w.size(2) || p->size(3) != w.size(3)) continue;
    report.adapted.push_back(target_prefix + name + ": " + std::to_string(w.size(1)) + " -> " +
                             std::to_string(spec.in_channels) + " input channels");
    w = adapt_input_channels(w, spec.in_channels);
  }

  try {
    report.load = load_named_tensors(*target, mapped, options.strict);
  } catch (const core::Error& e) {
    throw core::Error(std::string("weight import (") + report.mapping +
                      (report.stripped_prefix.empty() ? "" : ", '" + report.stripped_prefix + "' removed") +
                      (target_prefix.empty() ? "" : "; names relative to the encoder") + "): " + e.what());
  }
  report.load.missing = prefixed(report.load.missing, target_prefix);
  report.load.mismatched = prefixed(report.load.mismatched, target_prefix);
  // Unexpected names are the file's (after the wrapper prefix), not the model's.
  return report;
}

}  // namespace ptx::models

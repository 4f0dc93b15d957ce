#include "ptx/train/config_file.h"

#include <algorithm>

#include "ptx/core/error.h"

namespace ptx::train {

YAML::Node load_config_file(const std::string& path) {
  YAML::Node node;
  try {
    node = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw core::Error(path + ": cannot read the configuration file");
  } catch (const YAML::Exception& e) {
    throw core::Error(core::at(path, static_cast<std::size_t>(e.mark.line + 1)) + e.msg);
  }
  if (!node.IsMap()) throw core::Error(path + ": a configuration is a YAML mapping (key: value lines)");
  return node;
}

void apply_overrides(YAML::Node& config, const std::vector<std::string>& overrides) {
  for (const auto& item : overrides) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw core::UsageError("--set '" + item + "': expected key=value, e.g. --set epochs=1 or --set optimizer.lr=1e-4");
    YAML::Node value;
    try {
      value = YAML::Load(item.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw core::UsageError("--set '" + item + "': the value is not valid YAML (" + e.msg + ")");
    }
    const std::string path = item.substr(0, eq);
    // Walk with fresh handles: yaml-cpp's operator= on a node handle rebinds it, so a chain of
    // `node = node[key]` would modify the tree. Collect the keys, then assign at the end.
    std::vector<std::string> keys;
    for (size_t start = 0;;) {
      const auto dot = path.find('.', start);
      keys.push_back(path.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    for (const auto& k : keys)
      if (k.empty()) throw core::UsageError("--set '" + item + "': empty key in '" + path + "'");
    std::vector<YAML::Node> chain{config};
    for (size_t i = 0; i + 1 < keys.size(); ++i) {
      YAML::Node next = chain.back()[keys[i]];
      if (next.IsDefined() && !next.IsMap() && !next.IsNull())
        throw core::UsageError("--set '" + item + "': '" + keys[i] + "' is not a mapping");
      if (!next.IsDefined() || next.IsNull()) chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      chain.push_back(chain.back()[keys[i]]);
    }
    chain.back()[keys.back()] = value;
  }
}

YAML::Node merge_config(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  // A section of another type (plateau -> cosine) starts afresh: the old type's keys do not apply.
  if (base["type"] && over["type"] && base["type"].Scalar() != over["type"].Scalar()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const auto key = kv.first.as<std::string>();
    out[key] = out[key].IsDefined() ? merge_config(out[key], kv.second) : YAML::Clone(kv.second);
  }
  return out;
}

std::vector<YAML::Node> expand_parts(const YAML::Node& config) {
  if (!config["parts"]) return {YAML::Clone(config)};
  const YAML::Node parts = config["parts"];
  if (!parts.IsSequence() || parts.size() == 0)
    throw core::Error("parts: expected a non-empty list of mappings, each stating what changes in that part");
  YAML::Node base = YAML::Clone(config);
  base.remove("parts");
  std::vector<YAML::Node> out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].IsMap()) throw core::Error("parts[" + std::to_string(i) + "]: expected a mapping");
    if (parts[i]["parts"]) throw core::Error("parts[" + std::to_string(i) + "]: parts cannot be nested");
    out.push_back(merge_config(base, parts[i]));
  }
  return out;
}

void check_keys(const YAML::Node& node, const std::string& where, const std::vector<std::string>& valid) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) throw core::Error(where + ": expected a mapping of keys");
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      std::string list;
      for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
      throw core::Error((where.empty() ? "" : where + ": ") + "unknown key '" + key + "': valid keys are " + list);
    }
  }
}

}  // namespace ptx::train

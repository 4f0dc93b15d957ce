// Training configurations as YAML documents: loading, `--set key=value` overrides, chained parts,
// and key checking that names the offending key path. The typed schema (what each key means) is
// read from the resulting node by the training engine; this file only handles the document.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace ptx::train {

// Loads a YAML mapping; a syntax error or a non-mapping document is a ptx::core::Error naming the
// file and line.
YAML::Node load_config_file(const std::string& path);

// Applies "a.b.c=value" overrides in order: the value is parsed as YAML ("3", "1e-4", "[1, 2]",
// "{type: adam}", "text"), intermediate mappings are created. A malformed item is a
// ptx::core::UsageError naming it.
void apply_overrides(YAML::Node& config, const std::vector<std::string>& overrides);

// A deep copy of base with `over` merged into it: mappings merge key by key, anything else
// (scalars, lists) replaces, and so does a mapping whose `type` differs from the base's (a
// cosine scheduler does not inherit a plateau's keys).
YAML::Node merge_config(const YAML::Node& base, const YAML::Node& over);

// The runs a config describes: without a `parts` list, the config itself; with one, the base
// (without `parts`) merged with each part in turn, so a part states only what changes.
std::vector<YAML::Node> expand_parts(const YAML::Node& config);

// Throws ptx::core::Error "<where>: unknown key '<k>': valid keys are ..." for the first key of
// the mapping `node` not in `valid` (`where` is the key path, e.g. "data" or "parts[1].data").
void check_keys(const YAML::Node& node, const std::string& where, const std::vector<std::string>& valid);

}  // namespace ptx::train

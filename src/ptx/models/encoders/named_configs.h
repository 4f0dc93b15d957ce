// The encoder families' tables of standard configurations (resnet34, densenet121, ...): lookup by
// name with an error listing the valid names, and the names in table order.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"

namespace ptx::models {

template <typename Config, std::size_t N>
std::vector<std::string> config_names(const Config (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& c : table) names.emplace_back(c.name);
  return names;
}

// The entry named `name`; otherwise ptx::core::Error "unknown <family> '<name>': valid names are ...".
template <typename Config, std::size_t N>
const Config& find_config(const Config (&table)[N], const std::string& name, const std::string& family) {
  for (const auto& c : table)
    if (name == c.name) return c;
  throw core::Error("unknown " + family + " '" + name + "': valid names are " + core::join(config_names(table)));
}

}  // namespace ptx::models

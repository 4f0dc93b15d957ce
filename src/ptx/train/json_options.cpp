#include "ptx/train/json_options.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"

namespace ptx::train {

JsonOptions::JsonOptions(const nlohmann::json& config, std::string context,
                         std::vector<std::string> valid_keys)
    : config_(config), context_(std::move(context)) {
  if (!config_.is_object())
    throw core::Error(context_ + ": expected an object with keys " + core::join(valid_keys) + ", got " +
                      config_.dump());
  for (const auto& item : config_.items())
    if (std::find(valid_keys.begin(), valid_keys.end(), item.key()) == valid_keys.end())
      throw core::Error(context_ + ": unknown key '" + item.key() + "': valid keys are " +
                        core::join(valid_keys));
}

void JsonOptions::wrong(const std::string& key, const char* expected) const {
  throw core::Error(context_ + ": '" + key + "' must be " + expected + ", got " + config_.at(key).dump());
}

bool JsonOptions::has(const std::string& key) const { return config_.contains(key); }

const nlohmann::json& JsonOptions::at(const std::string& key) const {
  if (!has(key)) throw core::Error(context_ + ": the key '" + key + "' is required");
  return config_.at(key);
}

double JsonOptions::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  if (!config_.at(key).is_number()) wrong(key, "a number");
  return config_.at(key).get<double>();
}

std::optional<double> JsonOptions::optional_number(const std::string& key) const {
  if (!has(key) || config_.at(key).is_null()) return std::nullopt;
  return number(key, 0.0);
}

int64_t JsonOptions::integer(const std::string& key, int64_t fallback) const {
  if (!has(key)) return fallback;
  if (!config_.at(key).is_number_integer()) wrong(key, "an integer");
  return config_.at(key).get<int64_t>();
}

bool JsonOptions::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!config_.at(key).is_boolean()) wrong(key, "true or false");
  return config_.at(key).get<bool>();
}

std::string JsonOptions::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!config_.at(key).is_string()) wrong(key, "a string");
  return config_.at(key).get<std::string>();
}

std::string JsonOptions::choice(const std::string& key, const std::string& fallback,
                                const std::vector<std::string>& choices) const {
  const auto value = string(key, fallback);
  if (std::find(choices.begin(), choices.end(), value) == choices.end())
    throw core::Error(context_ + ": '" + key + "' is '" + value + "': valid values are " + core::join(choices));
  return value;
}

}  // namespace ptx::train

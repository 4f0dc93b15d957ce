// Reading one JSON object of options (a loss, optimiser or schedule config): typed getters with
// defaults, and every failure a ptx::core::Error that names the config, the key and the valid keys.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptx::train {


class JsonOptions {
 public:
  // `context` prefixes every message ("loss 'focal'"). Throws when `config` is not an object or
  // holds a key outside `valid_keys`.
  JsonOptions(const nlohmann::json& config, std::string context, std::vector<std::string> valid_keys);

  bool has(const std::string& key) const;
  // The value at `key`, or `fallback` when absent; a value of the wrong type throws.
  double number(const std::string& key, double fallback) const;
  std::optional<double> optional_number(const std::string& key) const;  // absent or null: nullopt
  int64_t integer(const std::string& key, int64_t fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  // A string that must be one of `choices`.
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& choices) const;
  const nlohmann::json& at(const std::string& key) const;  // throws when absent
  const std::string& context() const { return context_; }

 private:
  [[noreturn]] void wrong(const std::string& key, const char* expected) const;
  const nlohmann::json& config_;
  std::string context_;
};

}  // namespace ptx::train

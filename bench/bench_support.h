// Shared by the benchmarks: running the Python peers, the real sample data, the U-Net checkpoint.
#pragma once
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "ptx/core/memory.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/registry.h"

namespace ptx::bench {

// ../shared/data beside the checkout (PTX_SHARED_DATA overrides), or "" when absent.
inline std::string shared_data() {
  const char* env = std::getenv("PTX_SHARED_DATA");
  const std::string dir = env ? env : PTX_SHARED_DATA;
  return std::filesystem::is_directory(dir) ? dir : "";
}

// Runs a command and parses the last line of its stdout as JSON (the peers print one object).
inline nlohmann::json run_json(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string line, last;
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), pipe.get())) {
    line += buf.data();
    if (line.back() != '\n') continue;  // a line longer than the buffer
    if (line.size() > 1) last = line;
    line.clear();
  }
  if (!line.empty()) last = line;
  return nlohmann::json::parse(last);
}

// A U-Net ResNet34 checkpoint (3 channels, ImageNet normalisation) with seeded random weights at
// input size `size`: the model the prediction benchmarks time.
inline void write_unet34_checkpoint(const std::string& path, int size) {
  models::ModelSpec spec;  // U-Net ResNet34, 3 channels, 1 class
  torch::manual_seed(0);
  const auto model = models::build_model(spec);
  const nlohmann::json meta{{"input", {{"size", size}, {"channels", 3}, {"normalize", "imagenet"}}}};
  models::save_checkpoint(path, models::make_checkpoint(*model, spec, models::TrainState{{}, meta.dump()}));
}

// The CPU model, from /proc/cpuinfo (the figures depend on it).
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// The Python peers need Debian's interpreter (a pyenv python3 on PATH lacks the packages).
inline const char* python() { return "/usr/bin/python3"; }

}  // namespace ptx::bench

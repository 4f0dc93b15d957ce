// Shared by the benchmarks: running the Python peers, peak memory, the real sample data.
#pragma once
#include <sys/resource.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

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

// Peak resident memory of this process, MiB. (Not of the peers: a child forked from here keeps
// this process's peak across exec, so RUSAGE_CHILDREN would only repeat our own figure.)
inline double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The Python peers need Debian's interpreter (a pyenv python3 on PATH lacks the packages).
inline const char* python() { return "/usr/bin/python3"; }

}  // namespace ptx::bench

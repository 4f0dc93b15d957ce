#include "ptx/core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace ptx::core {
namespace {
std::atomic<bool> g_quiet{false};
std::mutex g_mutex;
}  // namespace

void set_quiet(bool quiet) { g_quiet = quiet; }

void info(const std::string& message) {
  if (g_quiet) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s\n", message.c_str());
}

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "warning: %s\n", message.c_str());
}

}  // namespace ptx::core

// Helpers shared by the tests: the real data folder, temporary folders, running the ptx binary.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <utility>
#include <string>

#include "ptx/core/error.h"

namespace ptx::test {

// ../shared/data, or "" when it is absent (tests then GTEST_SKIP with a message).
std::string shared_data();
#define PTX_REQUIRE_SHARED_DATA()                                                        \
  do {                                                                                   \
    if (::ptx::test::shared_data().empty())                                              \
      GTEST_SKIP() << "../shared/data is absent: real-data test skipped";                \
  } while (0)

// A fresh temporary folder removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// The message of the core::Error that f throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "";
}

// Runs the built ptx executable with arguments (a shell-quoted string).
CommandResult run_ptx(const std::string& args);

// Temporary files as core::AtomicOutput names them, left in folder as by a killed writer: one of
// a process that has exited (a forked child, reaped) and one of this test process (alive). Returns
// {stale, live} paths.
std::pair<std::filesystem::path, std::filesystem::path> plant_temporaries(const std::filesystem::path& folder);

}  // namespace ptx::test

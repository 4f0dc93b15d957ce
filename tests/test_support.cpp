#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

namespace ptx::test {
namespace fs = std::filesystem;

std::string shared_data() {
  const char* env = std::getenv("PTX_SHARED_DATA");
  const std::string dir = env ? env : PTX_SHARED_DATA;
  return fs::is_directory(dir) ? dir : "";
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("ptx-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

CommandResult run_ptx(const std::string& args) {
  TempDir tmp;
  const std::string out = tmp / "out", err = tmp / "err";
  const std::string cmd = std::string(PTX_EXECUTABLE) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return {code, slurp(out), slurp(err)};
}

std::pair<fs::path, fs::path> plant_temporaries(const fs::path& folder) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // reaped: the pid names no process now
  fs::create_directories(folder);
  const fs::path stale = folder / ("x.png.tmp." + std::to_string(child) + ".0");
  const fs::path live = folder / ("y.png.tmp." + std::to_string(::getpid()) + ".0");
  std::ofstream(stale) << "half";
  std::ofstream(live) << "being written";
  return {stale, live};
}

}  // namespace ptx::test

#include "ptx/core/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "ptx/core/error.h"
#include "ptx/core/log.h"

namespace ptx::core {
namespace fs = std::filesystem;

namespace {
// Unique per process and call, so threads writing beside each other never share a temp file.
fs::path temp_path_for(const fs::path& target) {
  static std::atomic<unsigned long> counter{0};
  return target.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The pid in a name made by temp_path_for, or 0 when the name is not one of them.
pid_t writer_pid(const std::string& name) {
  const auto tmp = name.rfind(".tmp.");
  if (tmp == std::string::npos) return 0;
  const std::string_view tail = std::string_view(name).substr(tmp + 5);  // "<pid>.<n>"
  const auto dot = tail.find('.');
  if (dot == std::string_view::npos || dot > 9 || !all_digits(tail.substr(0, dot)) || !all_digits(tail.substr(dot + 1))) return 0;
  return static_cast<pid_t>(std::stol(std::string(tail.substr(0, dot))));
}

// kill(pid, 0) sends nothing: it fails with ESRCH only when no such process exists (EPERM means
// it exists under another user).
bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }
}  // namespace

AtomicOutput::AtomicOutput(fs::path target) : target_(std::move(target)), temp_(temp_path_for(target_)) {
  std::error_code ec;
  if (target_.has_parent_path()) fs::create_directories(target_.parent_path(), ec);
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(at(target_.string()) + "cannot create file (" + std::strerror(errno) + "); check the folder exists and is writable");
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  fs::remove(temp_, ec);
}

void AtomicOutput::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok) throw Error(at(target_.string()) + "write failed (disk full?); free space and run again");
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) throw Error(at(target_.string()) + "cannot move the finished file into place: " + ec.message());
  committed_ = true;
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  AtomicOutput out(path);
  out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.commit();
}

void write_atomically(const fs::path& target, const std::function<void(const fs::path& temp)>& produce) {
  const fs::path temp = temp_path_for(target);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  try {
    produce(temp);
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error(at(target.string()) + "cannot move the finished file into place: " + ec.message());
  }
}

std::size_t remove_stale_temporaries(const fs::path& folder) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const pid_t pid = writer_pid(entry.path().filename().string());
    if (pid <= 0 || !entry.is_regular_file(ec) || process_alive(pid)) continue;
    if (fs::remove(entry.path(), ec)) ++removed;
  }
  if (removed)
    info("removed " + std::to_string(removed) + " temporary file(s) left in " + folder.string() + " by an interrupted run");
  return removed;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(at(path.string()) + "cannot open file (" + std::strerror(errno) + "); check the path");
  std::string data;
  in.seekg(0, std::ios::end);
  data.resize(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) throw Error(at(path.string()) + "read failed");
  return data;
}

}  // namespace ptx::core

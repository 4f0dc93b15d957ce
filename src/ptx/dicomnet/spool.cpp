#include "ptx/dicomnet/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <random>

#include "ptx/core/atomic_file.h"
#include "ptx/core/durable_file.h"
#include "ptx/core/error.h"

namespace ptx::dicomnet {

namespace fs = std::filesystem;

namespace {

std::string utc_format(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

// The temporary files of core::write_atomically: "<name>.tmp.<pid>.<n>".
bool is_temporary(const fs::path& p) { return p.filename().string().find(".tmp.") != std::string::npos; }

void remove_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && is_temporary(it->path())) fs::remove(it->path(), ec);
}

}  // namespace

Spool::Spool(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_ / "incoming", ec);
  fs::create_directories(root_ / "done", ec);
  if (ec || !fs::is_directory(root_ / "incoming") || !fs::is_directory(root_ / "done"))
    throw core::Error(core::at(root_.string()) + "cannot create the spool folders; give a writable --spool");
  // The kernel drops the lock when the process dies, even by SIGKILL: a restart is never locked out.
  lock_fd_ = ::open((root_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw core::Error(core::at(root_.string()) + "another ptx node is using this spool; stop it or give another --spool");
  }
  remove_temporaries(root_);
}

Spool::~Spool() { ::close(lock_fd_); }

std::string Spool::new_id() const {
  static std::mutex mutex;
  static std::mt19937 random{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  while (true) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
    const std::string id = utc_format("%Y%m%dT%H%M%S") + "-" + suffix;
    if (!fs::exists(incoming(id)) && !fs::exists(done_dir(id))) return id;
  }
}

fs::path Spool::incoming(const std::string& id) const { return root_ / "incoming" / (id + ".dcm"); }
fs::path Spool::done_dir(const std::string& id) const { return root_ / "done" / id; }
fs::path Spool::record_path(const std::string& id) const { return done_dir(id) / "result.json"; }
bool Spool::has_record(const std::string& id) const { return fs::is_regular_file(record_path(id)); }

std::vector<std::string> Spool::unprocessed() const {
  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(root_ / "incoming")) {
    const fs::path p = e.path();
    if (e.is_regular_file() && p.extension() == ".dcm" && is_instance_id(p.stem().string())) ids.push_back(p.stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> Spool::undelivered() const {
  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(root_ / "done")) {
    const std::string id = e.path().filename().string();
    if (!is_instance_id(id) || !has_record(id)) continue;
    try {
      if (read_record(id).has_pending_delivery()) ids.push_back(id);
    } catch (const core::Error&) {
      // A record that cannot be read is left for a person to look at; it is never resent blindly.
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Spool::write_record(const InstanceRecord& record) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  const fs::path path = record_path(record.id);
  const std::string text = to_json(record).dump(2) + "\n";
  core::write_file_durably(path, text);
}

InstanceRecord Spool::read_record(const std::string& id) const {
  const fs::path path = record_path(id);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(core::at(path.string()) + "not JSON (" + e.what() + ")");
  }
  return record_from_json(j, path.string());
}

void Spool::finish(const std::string& id) {
  std::error_code ec;
  fs::rename(incoming(id), done_dir(id) / "source.dcm", ec);
  if (ec) throw core::Error(core::at(incoming(id).string()) + "cannot move into the done area: " + ec.message());
  core::sync_to_disk(root_ / "incoming");
  core::sync_to_disk(done_dir(id));
}

std::uintmax_t Spool::free_bytes() const {
  std::error_code ec;
  const auto info = fs::space(root_, ec);
  return ec ? 0 : info.available;
}

}  // namespace ptx::dicomnet

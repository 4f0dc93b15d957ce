#include "ptx/core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::core {

namespace fs = std::filesystem;

void sync_to_disk(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | (fs::is_directory(path) ? O_DIRECTORY : 0));
  if (fd < 0) throw Error(at(path.string()) + "cannot open to flush it to disk (" + std::strerror(errno) + ")");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(at(path.string()) + "cannot flush to disk (" + std::strerror(errno) + "); is the disk full or failing?");
}

void write_durably(const fs::path& target, const std::function<void(const fs::path& temp)>& produce) {
  write_atomically(target, [&](const fs::path& temp) {
    produce(temp);
    sync_to_disk(temp);
  });
  sync_to_disk(target.has_parent_path() ? target.parent_path() : fs::path("."));
}

void write_file_durably(const fs::path& target, std::string_view bytes) {
  write_durably(target, [&](const fs::path& temp) {
    std::ofstream out(temp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw Error(at(target.string()) + "write failed (disk full?); free space and try again");
  });
}

}  // namespace ptx::core

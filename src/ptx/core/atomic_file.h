// Outputs written so that an interrupted run never leaves a half file: data goes to a temporary
// file beside the target and is renamed over it only when complete.
#pragma once
#include <filesystem>
#include <fstream>
#include <string_view>

namespace ptx::core {

class AtomicOutput {
 public:
  explicit AtomicOutput(std::filesystem::path target);
  ~AtomicOutput();  // removes the temporary file unless commit() was called
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  std::ostream& stream() { return out_; }
  // Flushes, closes and renames the temporary file over the target. Throws core::Error on failure.
  void commit();

 private:
  std::filesystem::path target_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Writes bytes to path atomically (creating parent folders).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Removes from folder (not its subfolders) the temporary files that a killed ptx left behind:
// names ending in .tmp.<pid>.<n> whose process no longer exists. Files of this process or of a
// live one (still writing) are kept. Returns how many were removed; a missing folder is none.
std::size_t remove_stale_temporaries(const std::filesystem::path& folder);

// Reads a whole file; throws core::Error naming it when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace ptx::core

#include <functional>
namespace ptx::core {
// For libraries that write files by name (DCMTK, OpenCV): produce() writes the temporary path
// given to it, which is then renamed over target; on an exception the temporary file is removed.
void write_atomically(const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& temp)>& produce);
}  // namespace ptx::core

// Outputs that must survive a power cut, not only a killed process (the DICOM node's spool: an
// instance the node has acknowledged must never be lost): written as core::write_atomically does,
// with the file and its folder entry flushed to disk before the call returns.
#pragma once
#include <filesystem>
#include <functional>
#include <string_view>

namespace ptx::core {

// fsync of a file, or of a folder (its entries). Throws core::Error naming the path.
void sync_to_disk(const std::filesystem::path& path);

void write_durably(const std::filesystem::path& target,
                   const std::function<void(const std::filesystem::path& temp)>& produce);
void write_file_durably(const std::filesystem::path& target, std::string_view bytes);

}  // namespace ptx::core

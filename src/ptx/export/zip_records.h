// Named records in one zip file, through the zip reader and writer LibTorch ships for torch.save
// (caffe2::serialize): records are stored uncompressed, 64-byte aligned, under one archive folder
// that the reader strips, plus a "version" record the writer adds itself.
#pragma once
#include <filesystem>
#include <map>
#include <string>

namespace ptx::exports {

using ZipRecords = std::map<std::string, std::string>;  // name -> bytes

// Writes the records atomically (a temporary file renamed over path). Errors name path.
void write_zip_records(const std::filesystem::path& path, const ZipRecords& records);

// Every record but the writer's own "version"; an unreadable or non-zip file is a core::Error naming path.
ZipRecords read_zip_records(const std::string& path);

}  // namespace ptx::exports

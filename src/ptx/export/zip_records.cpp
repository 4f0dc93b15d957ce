#include "ptx/export/zip_records.h"

#include <caffe2/serialize/inline_container.h>

#include <fstream>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::exports {

namespace {

std::string first_line(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return msg;
}

}  // namespace

void write_zip_records(const std::filesystem::path& path, const ZipRecords& records) {
  core::write_atomically(path, [&](const std::filesystem::path& temp) {
    std::ofstream out(temp, std::ios::binary);
    if (!out) throw core::Error(temp.string() + ": cannot create the file; check the folder's permissions");
    try {
      caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) -> size_t {
        out.write(static_cast<const char*>(data), std::streamsize(size));
        return out ? size : 0;  // 0 makes the writer fail
      });
      for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
      writer.writeEndOfFile();
    } catch (const c10::Error& e) {
      throw core::Error(path.string() + ": cannot write the zip (" + first_line(e) + "); is the disk full?");
    }
    out.close();
    if (!out) throw core::Error(path.string() + ": write error; is the disk full?");
  });
}

ZipRecords read_zip_records(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw core::Error(path + ": no such file; give the path of a .ptxb bundle");
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    ZipRecords records;
    for (const auto& name : reader.getAllRecords()) {
      if (name == "version" || name == ".data/version") continue;
      auto [data, size] = reader.getRecord(name);
      records.emplace(name, std::string(static_cast<const char*>(data.get()), size));
    }
    return records;
  } catch (const c10::Error& e) {
    throw core::Error(path + ": not a readable zip file (" + first_line(e) + "); truncated or corrupt?");
  }
}

}  // namespace ptx::exports

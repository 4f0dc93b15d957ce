// Files written by Python's torch.save (.pth / .pt), read and written as pickle values.
//
// Zip format (torch >= 1.6): the archive <prefix>/data.pkl is unpickled (pickle.h) and each
// persistent id ('storage', torch.<T>Storage, key, location, numel) becomes the record
// <prefix>/data/<key>, loaded once, so tensors that were views of one storage still share it.
// Every tensor comes out on the CPU whatever location it was saved from.
// Legacy format (torch.save(..., _use_new_zipfile_serialization=False)): a sequence of pickles
// followed by the raw storages; read as well (little-endian files only).
#pragma once
#include <string>

#include "ptx/models/pickle.h"

namespace ptx::models {

// The object torch.save stored in `path`. Throws ptx::core::Error naming the file when it is
// missing, not a torch.save file, truncated or corrupt.
pickle::ValuePtr read_torch_file(const std::string& path);

// Writes `value` (see pickle::dumps for the types allowed) as a zip-format torch.save file that
// Python's torch.load reads, atomically (a temporary file renamed over `path`). Tensors are
// written contiguous, each with its own storage.
void write_torch_file(const std::string& path, const pickle::Value& value);

// The same bytes, in memory.
std::string torch_file_bytes(const pickle::Value& value);

}  // namespace ptx::models

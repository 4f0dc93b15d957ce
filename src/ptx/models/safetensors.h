// The .safetensors format (Hugging Face), read and written without the Rust library:
//   8 bytes: N, the header length (little-endian u64)
//   N bytes: a JSON object {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..],
//            "data_offsets": [begin, end]}, ...} (may end in spaces)
//   the data: each tensor's little-endian, row-major bytes at [begin, end) of what follows the
//   header.
// Dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Reading checks every entry (dtype,
// shape, offsets inside the file and matching the shape, no overlaps); errors name the file and
// the tensor.
#pragma once
#include <map>
#include <string>

#include "ptx/models/weights.h"

namespace ptx::models {

struct SafetensorsFile {
  NamedTensors tensors;                         // on the CPU, owning their memory
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (made contiguous, on the CPU) in name order, atomically.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// True when the path ends in ".safetensors" (any case).
bool has_safetensors_extension(const std::string& path);

}  // namespace ptx::models

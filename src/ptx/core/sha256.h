// SHA-256 through OpenSSL's libcrypto: which checkpoint a server runs (`ptx serve`'s /api/v1/model)
// and the integrity of a model bundle's members (export/bundle.h).
#pragma once
#include <string>
#include <string_view>

namespace ptx::core {

// Lower-case hex digest of a file's bytes; a file that cannot be read is a core::Error naming it.
std::string sha256_file_hex(const std::string& path);

// Lower-case hex digest of bytes in memory.
std::string sha256_hex(std::string_view bytes);

}  // namespace ptx::core

// SHA-256 through OpenSSL's libcrypto: which checkpoint a server runs (`ptx serve`'s /api/v1/model).
#pragma once
#include <string>

namespace ptx::core {

// Lower-case hex digest of a file's bytes; a file that cannot be read is a core::Error naming it.
std::string sha256_file_hex(const std::string& path);

}  // namespace ptx::core

#include "ptx/core/sha256.h"

#include <openssl/evp.h>

#include <fstream>
#include <functional>
#include <memory>
#include <vector>

#include "ptx/core/error.h"

namespace ptx::core {

namespace {

// Runs feed(update) over the data, then returns the hex digest.
std::string digest_hex(const std::function<void(const std::function<void(const void*, std::size_t)>&)>& feed) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("OpenSSL: cannot start SHA-256");
  feed([&](const void* data, std::size_t size) { EVP_DigestUpdate(ctx.get(), data, size); });
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace

std::string sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(at(path) + "cannot read the file");
  const std::string hex = digest_hex([&](const auto& update) {
    std::vector<char> buffer(1 << 20);
    while (in) {
      in.read(buffer.data(), std::streamsize(buffer.size()));
      if (in.gcount() > 0) update(buffer.data(), std::size_t(in.gcount()));
    }
  });
  if (in.bad()) throw Error(at(path) + "read error");
  return hex;
}

std::string sha256_hex(std::string_view bytes) {
  return digest_hex([&](const auto& update) { update(bytes.data(), bytes.size()); });
}

}  // namespace ptx::core

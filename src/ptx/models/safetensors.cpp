#include "ptx/models/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::models {

namespace {

using nlohmann::json;

const std::vector<std::pair<std::string, torch::ScalarType>>& dtypes() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> v{
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
  };
  return v;
}

std::string dtype_name(torch::ScalarType t) {
  for (const auto& [name, d] : dtypes())
    if (d == t) return name;
  throw core::Error(std::string("safetensors cannot hold tensors of dtype ") + c10::toString(t));
}

constexpr uint64_t kMaxHeader = 100'000'000;  // the format's own limit

}  // namespace

bool has_safetensors_extension(const std::string& path) {
  const std::string ext = ".safetensors";
  if (path.size() < ext.size()) return false;
  return std::equal(ext.begin(), ext.end(), path.end() - static_cast<std::ptrdiff_t>(ext.size()),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string bytes = core::read_file(path);
  const auto fail = [&](const std::string& msg) {
    return core::Error(path + ": " + msg + " (not a valid .safetensors file: truncated or corrupt?)");
  };
  if (bytes.size() < 8) throw fail("shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<uint8_t>(bytes[k]);
  if (n > kMaxHeader || n > bytes.size() - 8)
    throw fail("a header length of " + std::to_string(n) + " bytes, beyond the file's " + std::to_string(bytes.size()));
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    throw fail(std::string("the header is not JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail("the header is not a JSON object");
  const char* data = bytes.data() + 8 + n;
  const uint64_t data_size = bytes.size() - 8 - n;
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw fail("__metadata__ '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const auto bad = [&](const std::string& msg) { return fail("tensor '" + name + "': " + msg); };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    const auto& jd = entry["dtype"];
    if (!jd.is_string()) throw bad("dtype is not a string");
    const auto found = std::find_if(dtypes().begin(), dtypes().end(), [&](const auto& p) { return p.first == jd.get<std::string>(); });
    if (found == dtypes().end()) throw bad("unsupported dtype " + jd.dump() + " (ptx reads F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    if (!entry["shape"].is_array()) throw bad("shape is not a list");
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) throw bad("shape " + entry["shape"].dump());
      shape.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
      if (numel > (uint64_t{1} << 40)) throw bad("shape " + entry["shape"].dump() + " is too large");
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets is not [begin, end]");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    const uint64_t nbytes = numel * c10::elementSize(found->second);
    if (begin > end || end > data_size)
      throw bad("data_offsets " + off.dump() + " outside the " + std::to_string(data_size) + " bytes of data");
    if (end - begin != nbytes)
      throw bad("data_offsets " + off.dump() + " hold " + std::to_string(end - begin) + " bytes, the shape needs " + std::to_string(nbytes));
    ranges.emplace_back(begin, end);
    auto t = torch::empty(shape, torch::dtype(found->second));
    if (nbytes) std::memcpy(t.data_ptr(), data + begin, nbytes);
    out.tensors.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t k = 1; k < ranges.size(); ++k)
    if (ranges[k].first < ranges[k - 1].second) throw fail("two tensors overlap in the data");
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw core::Error(path + ": a tensor cannot be named __metadata__");
    auto c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype_name(c.scalar_type())}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  char len[8];
  for (int k = 0; k < 8; ++k) len[k] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * k)) & 0xff);
  core::AtomicOutput out(path);
  out.stream().write(len, 8);
  out.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : data)
    out.stream().write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  out.commit();
}

}  // namespace ptx::models

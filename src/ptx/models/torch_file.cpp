#include "ptx/models/torch_file.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <map>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::models {

namespace {

using pickle::Kind;
using pickle::Value;
using pickle::ValuePtr;

const char* const kResave = "re-save it in Python with torch.save(obj, path)";

// The fields of a storage persistent id: ('storage', torch.<T>Storage, key, location, numel, ...).
struct StorageId {
  torch::ScalarType dtype;
  std::string key;
  int64_t numel;
};

StorageId parse_storage_id(const ValuePtr& pid, const std::string& what) {
  const auto bad = [&] { return core::Error(what + ": a persistent id that is not a storage (" + pid->type_name() + "); " + kResave); };
  if (!pid->is(Kind::Tuple) || pid->items.size() < 5) throw bad();
  const auto& f = pid->items;
  if (!f[0]->is(Kind::Str) || f[0]->s != "storage" || !f[1]->is(Kind::Global) || !f[2]->is(Kind::Str) ||
      !f[4]->is(Kind::Int) || f[4]->i < 0)
    throw bad();
  if (f.size() > 5 && !f[5]->is(Kind::None))
    throw core::Error(what + ": storage views of the pre-1.0 format are not supported; " + kResave);
  return {pickle::storage_dtype(f[1]->s, what), f[2]->s, f[4]->i};
}

ValuePtr storage_value(torch::Tensor t) {
  auto v = std::make_shared<Value>();
  v->kind = Kind::Storage;
  v->tensor = std::move(t);
  return v;
}

ValuePtr read_zip(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl"))
      throw core::Error(path + ": a zip file without data.pkl, not written by torch.save (a TorchScript archive? "
                               "save the state_dict with torch.save instead)");
    if (reader.hasRecord("byteorder")) {
      auto [p, n] = reader.getRecord("byteorder");
      if (std::string(static_cast<const char*>(p.get()), n) != "little")
        throw core::Error(path + ": a big-endian torch.save file; " + kResave + " on a little-endian machine");
    }
    auto [pkl_ptr, pkl_size] = reader.getRecord("data.pkl");
    const std::string_view pkl(static_cast<const char*>(pkl_ptr.get()), pkl_size);
    std::map<std::string, ValuePtr> storages;
    const std::string what = path + ": data.pkl";
    const pickle::PersistentLoad load = [&](const ValuePtr& pid) -> ValuePtr {
      const auto id = parse_storage_id(pid, what);
      const auto found = storages.find(id.key);
      if (found != storages.end()) {
        if (found->second->tensor.scalar_type() != id.dtype)
          throw core::Error(what + ": storage " + id.key + " used with two dtypes; " + kResave);
        return found->second;
      }
      const std::string record = "data/" + id.key;
      if (!reader.hasRecord(record)) throw core::Error(path + ": the record " + record + " is missing: truncated or corrupt file");
      auto [ptr, nbytes] = reader.getRecord(record);
      const auto need = static_cast<std::size_t>(id.numel) * c10::elementSize(id.dtype);
      if (nbytes < need)
        throw core::Error(path + ": the record " + record + " holds " + std::to_string(nbytes) + " bytes, " +
                          std::to_string(need) + " expected: corrupt file");
      c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr), nullptr, false);
      auto t = torch::empty({0}, torch::dtype(id.dtype)).set_(storage, 0, {id.numel}, {1});
      return storages[id.key] = storage_value(std::move(t));
    };
    std::size_t pos = 0;
    return pickle::unpickle(pkl, pos, load, what);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw core::Error(path + ": not a readable torch.save zip file (" + msg + "); truncated or corrupt?");
  }
}

// torch.save(..., _use_new_zipfile_serialization=False): magic, protocol and system-info pickles,
// the object's pickle, the sorted list of storage keys, then per key an int64 element count and
// the raw bytes.
ValuePtr read_legacy(const std::string& path, const std::string& bytes) {
  const std::string what = path + " (legacy torch.save format)";
  std::size_t pos = 0;
  const auto magic = pickle::unpickle(bytes, pos, nullptr, what);
  // 0x1950a86a20f9469cfc6c does not fit 64 bits: LONG1 of 10 bytes, kept as an opaque int.
  if (!magic->is(Kind::Object) || magic->s != "int (beyond 64 bits)")
    throw core::Error(path + ": not a torch.save file; expected a .pth/.pt file written by torch.save");
  const auto protocol = pickle::unpickle(bytes, pos, nullptr, what);
  if (!protocol->is(Kind::Int) || protocol->i != 1001)
    throw core::Error(what + ": unsupported protocol version; " + kResave);
  const auto sys_info = pickle::unpickle(bytes, pos, nullptr, what);
  if (const auto le = sys_info->get("little_endian"); le && le->is(Kind::Bool) && !le->b)
    throw core::Error(what + ": a big-endian file; " + kResave + " on a little-endian machine");
  std::map<std::string, ValuePtr> storages;
  const pickle::PersistentLoad load = [&](const ValuePtr& pid) -> ValuePtr {
    const auto id = parse_storage_id(pid, what);
    if (static_cast<uint64_t>(id.numel) > bytes.size() / c10::elementSize(id.dtype))
      throw core::Error(what + ": storage " + id.key + " is larger than the file: truncated or corrupt");
    auto& slot = storages[id.key];
    if (!slot) slot = storage_value(torch::empty({id.numel}, torch::dtype(id.dtype)));
    return slot;
  };
  auto result = pickle::unpickle(bytes, pos, load, what);
  const auto keys = pickle::unpickle(bytes, pos, nullptr, what);
  if (!keys->is(Kind::List)) throw core::Error(what + ": no storage key list after the object; truncated or corrupt");
  for (const auto& key : keys->items) {
    const auto it = key->is(Kind::Str) ? storages.find(key->s) : storages.end();
    if (it == storages.end()) throw core::Error(what + ": a storage key not used by the object; corrupt file");
    auto& t = it->second->tensor;
    if (bytes.size() - pos < 8) throw core::Error(what + ": truncated file (storage " + key->s + ")");
    int64_t numel;
    std::memcpy(&numel, bytes.data() + pos, 8);
    pos += 8;
    const auto nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    if (numel != t.numel() || bytes.size() - pos < nbytes)
      throw core::Error(what + ": truncated or corrupt file (storage " + key->s + ")");
    std::memcpy(t.data_ptr(), bytes.data() + pos, nbytes);
    pos += nbytes;
  }
  return result;
}

}  // namespace

pickle::ValuePtr read_torch_file(const std::string& path) {
  char head[4] = {0, 0, 0, 0};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw core::Error(path + ": cannot open the weights file; check the path");
    in.read(head, sizeof head);
  }
  if (std::memcmp(head, "PK\x03\x04", 4) == 0) return read_zip(path);
  if (static_cast<uint8_t>(head[0]) == 0x80) {
    try {
      return read_legacy(path, core::read_file(path));
    } catch (const c10::Error& e) {
      throw core::Error(path + ": cannot read this legacy torch.save file (" + e.what_without_backtrace() + "); " + kResave);
    }
  }
  throw core::Error(path + ": not a torch.save file (neither a zip archive nor a pickle); expected a .pth/.pt "
                           "file written by torch.save, or a .safetensors file");
}

std::string torch_file_bytes(const pickle::Value& value) {
  std::vector<torch::Tensor> storages;
  const std::string pkl = pickle::dumps(value, [&](const torch::Tensor& t) {
    storages.push_back(t.detach().to(torch::kCPU).contiguous());
    return std::to_string(storages.size() - 1);
  });
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (std::size_t k = 0; k < storages.size(); ++k) {
    const auto& t = storages[k];
    writer.writeRecord("data/" + std::to_string(k), t.data_ptr(), t.numel() * t.element_size());
  }
  writer.writeEndOfFile();
  return out;
}

void write_torch_file(const std::string& path, const pickle::Value& value) {
  core::write_file_atomic(path, torch_file_bytes(value));
}

}  // namespace ptx::models

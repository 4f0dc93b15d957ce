// Python pickles as torch.save writes them, read and written without Python: a small value model
// (None, bool, int, float, str, bytes, tuple, list, dict, tensor, storage, and opaque objects of
// other classes), an unpickler for the opcodes of protocols 2-4, and a protocol-2 pickler.
//
// The unpickler knows the few callables a state_dict needs: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter(_with_state) and the
// torch.jit._pickle helpers that torch::pickle_save emits. Any other class (numpy scalars,
// argparse.Namespace in a training checkpoint) becomes an opaque Object naming it, so reading a
// checkpoint never fails on entries ptx does not use; code that needs a value finds it is an
// Object and says which class it was. Unknown opcodes, malformed or truncated data are errors
// naming the file. Storages come from a persistent_load callback (the torch file reader's).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptx::models::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Tensor, Storage, Global, Object };

struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                        // Str, Bytes; Global and Object: "module.name"
  std::vector<ValuePtr> items;  // Tuple, List; Object: constructor arguments, then its BUILD state if any
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;   // Dict, in insertion order
  bool ordered = false;                                 // Dict: a collections.OrderedDict
  torch::Tensor tensor;  // Tensor; Storage: a 1-d tensor over the whole storage (its dtype)

  static ValuePtr none();
  static ValuePtr boolean(bool v);
  static ValuePtr integer(int64_t v);
  static ValuePtr real(double v);
  static ValuePtr str(std::string v);
  static ValuePtr tuple(std::vector<ValuePtr> v);
  static ValuePtr list(std::vector<ValuePtr> v);
  static ValuePtr dict(bool ordered = false);
  static ValuePtr of_tensor(torch::Tensor t);

  bool is(Kind k) const { return kind == k; }
  // Dict with string keys: the value of key, or nullptr.
  ValuePtr get(std::string_view key) const;
  void set(const std::string& key, ValuePtr value);  // Dict: appends (no duplicate check)
  // "dict", "OrderedDict", "tensor", "numpy.core.multiarray.scalar", ... for messages.
  std::string type_name() const;
};

// Given the persistent id (a tuple such as ('storage', torch.FloatStorage, '0', 'cpu', 18)),
// returns the Storage value it stands for. Throw ptx::core::Error for ids it cannot resolve.
using PersistentLoad = std::function<ValuePtr(const ValuePtr& pid)>;

// Unpickles one pickle from data[pos...]; on return pos is just past its STOP opcode. `what`
// names the source in errors ("w.pth: data.pkl").
ValuePtr unpickle(std::string_view data, std::size_t& pos, const PersistentLoad& persistent_load,
                  const std::string& what);
inline ValuePtr unpickle(std::string_view data, const PersistentLoad& persistent_load, const std::string& what) {
  std::size_t pos = 0;
  return unpickle(data, pos, persistent_load, what);
}

// The dtype of a storage class name ("torch.FloatStorage" -> Float); throws ptx::core::Error
// naming `what` for unknown ones.
torch::ScalarType storage_dtype(const std::string& class_name, const std::string& what);
// The storage class name of a dtype ("FloatStorage"); throws for dtypes torch.save cannot name.
std::string storage_class(torch::ScalarType dtype);

// Protocol-2 pickle of a value of None, Bool, Int, Float, Str, Tuple, List, Dict (ordered ones as
// collections.OrderedDict) and Tensor. Each tensor becomes _rebuild_tensor_v2 over a persistent id
// ('storage', torch.<T>Storage, key, 'cpu', numel) where key = storage_key(tensor) names the record
// that must hold the tensor's contiguous bytes (the caller writes them).
std::string dumps(const Value& value, const std::function<std::string(const torch::Tensor&)>& storage_key);

}  // namespace ptx::models::pickle

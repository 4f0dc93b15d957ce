#include "ptx/models/pickle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "ptx/core/error.h"

namespace ptx::models::pickle {

// ---------------------------------------------------------------------------------------------
// Values

ValuePtr Value::none() { return std::make_shared<Value>(); }
ValuePtr Value::boolean(bool v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Bool;
  p->b = v;
  return p;
}
ValuePtr Value::integer(int64_t v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Int;
  p->i = v;
  return p;
}
ValuePtr Value::real(double v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Float;
  p->f = v;
  return p;
}
ValuePtr Value::str(std::string v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Str;
  p->s = std::move(v);
  return p;
}
ValuePtr Value::tuple(std::vector<ValuePtr> v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Tuple;
  p->items = std::move(v);
  return p;
}
ValuePtr Value::list(std::vector<ValuePtr> v) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::List;
  p->items = std::move(v);
  return p;
}
ValuePtr Value::dict(bool ordered) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Dict;
  p->ordered = ordered;
  return p;
}
ValuePtr Value::of_tensor(torch::Tensor t) {
  auto p = std::make_shared<Value>();
  p->kind = Kind::Tensor;
  p->tensor = std::move(t);
  return p;
}

ValuePtr Value::get(std::string_view key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::Str && k->s == key) return v;
  return nullptr;
}

void Value::set(const std::string& key, ValuePtr value) { entries.emplace_back(str(key), std::move(value)); }

std::string Value::type_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return ordered ? "OrderedDict" : "dict";
    case Kind::Tensor: return "tensor";
    case Kind::Storage: return "storage";
    case Kind::Global: return "global " + s;
    case Kind::Object: return s;
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Storage classes

namespace {
const std::vector<std::pair<std::string, torch::ScalarType>>& storage_classes() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> v{
      {"FloatStorage", torch::kFloat32},        {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},         {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},           {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},          {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},           {"BoolStorage", torch::kBool},
      {"ComplexFloatStorage", torch::kComplexFloat}, {"ComplexDoubleStorage", torch::kComplexDouble},
  };
  return v;
}
}  // namespace

torch::ScalarType storage_dtype(const std::string& class_name, const std::string& what) {
  for (const auto& [name, dtype] : storage_classes())
    if (class_name == "torch." + name) return dtype;
  throw core::Error(what + ": unsupported storage class '" + class_name +
                    "' (quantized or other special tensors cannot be imported; save a float copy)");
}

std::string storage_class(torch::ScalarType dtype) {
  for (const auto& [name, d] : storage_classes())
    if (d == dtype) return name;
  throw core::Error(std::string("cannot save tensors of dtype ") + c10::toString(dtype));
}

// ---------------------------------------------------------------------------------------------
// Unpickler

namespace {

class Unpickler {
 public:
  Unpickler(std::string_view data, std::size_t& pos, const PersistentLoad& load, const std::string& what)
      : data_(data), pos_(pos), load_(load), what_(what) {}

  ValuePtr run() {
    while (true) {
      const std::size_t at = pos_;
      const auto op = static_cast<uint8_t>(byte());
      switch (op) {
        case 0x80: byte(); break;             // PROTO
        case 0x95: bytes(8); break;           // FRAME
        case '.': {                           // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail(at, "STOP with a malformed stack");
          return stack_.back();
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': pop(); break;                            // POP
        case '1': pop_mark(); break;                       // POP_MARK
        case '2': push(top()); break;                      // DUP
        case 'N': push(Value::none()); break;
        case 0x88: push(Value::boolean(true)); break;
        case 0x89: push(Value::boolean(false)); break;
        case 'J': push(Value::integer(static_cast<int32_t>(le(4)))); break;  // BININT
        case 'K': push(Value::integer(static_cast<int64_t>(le(1)))); break;  // BININT1
        case 'M': push(Value::integer(static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: push(long_int(le(1))); break;                         // LONG1
        case 0x8b: push(long_int(le(4))); break;                         // LONG4
        case 'G': {                                                          // BINFLOAT (big endian)
          uint64_t bits = 0;
          for (char c : bytes(8)) bits = (bits << 8) | static_cast<uint8_t>(c);
          double d;
          std::memcpy(&d, &bits, sizeof d);
          push(Value::real(d));
          break;
        }
        case 'X': push(Value::str(std::string(bytes(le(4))))); break;     // BINUNICODE
        case 0x8c: push(Value::str(std::string(bytes(le(1))))); break;    // SHORT_BINUNICODE
        case 0x8d: push(Value::str(std::string(bytes(le(8))))); break;    // BINUNICODE8
        case 'T': push(Value::str(std::string(bytes(le(4))))); break;     // BINSTRING
        case 'U': push(Value::str(std::string(bytes(le(1))))); break;     // SHORT_BINSTRING
        case 'B': push(raw(bytes(le(4)))); break;                         // BINBYTES
        case 'C': push(raw(bytes(le(1)))); break;                         // SHORT_BINBYTES
        case 0x8e: case 0x96: push(raw(bytes(le(8)))); break;             // BINBYTES8, BYTEARRAY8
        case ')': push(Value::tuple({})); break;                          // EMPTY_TUPLE
        case 't': push(Value::tuple(pop_mark())); break;                  // TUPLE
        case 0x85: push(Value::tuple(pop_n(1))); break;                   // TUPLE1
        case 0x86: push(Value::tuple(pop_n(2))); break;                   // TUPLE2
        case 0x87: push(Value::tuple(pop_n(3))); break;                   // TUPLE3
        case ']': case 0x8f: push(Value::list({})); break;                // EMPTY_LIST, EMPTY_SET
        case 'l': case 0x91: push(Value::list(pop_mark())); break;        // LIST, FROZENSET
        case 'a': {                                                       // APPEND
          auto v = pop();
          list_at(top(), at)->items.push_back(std::move(v));
          break;
        }
        case 'e': case 0x90: {                                            // APPENDS, ADDITEMS
          auto items = pop_mark();
          auto& dst = list_at(top(), at)->items;
          dst.insert(dst.end(), items.begin(), items.end());
          break;
        }
        case '}': push(Value::dict()); break;                             // EMPTY_DICT
        case 'd': {                                                       // DICT
          auto d = Value::dict();
          add_items(*d, pop_mark(), at);
          push(d);
          break;
        }
        case 's': {                                                       // SETITEM
          auto items = pop_n(2);
          add_items(*dict_at(top(), at), items, at);
          break;
        }
        case 'u': {                                                       // SETITEMS
          auto items = pop_mark();
          add_items(*dict_at(top(), at), items, at);
          break;
        }
        case 'q': memo_[le(1)] = top(); break;                            // BINPUT
        case 'r': memo_[le(4)] = top(); break;                            // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;                    // MEMOIZE
        case 'h': push(memo(le(1), at)); break;                           // BINGET
        case 'j': push(memo(le(4), at)); break;                           // LONG_BINGET
        case 'c': {                                                       // GLOBAL
          std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {                                                      // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (!module->is(Kind::Str) || !name->is(Kind::Str)) fail(at, "STACK_GLOBAL without strings");
          push(global(module->s + "." + name->s));
          break;
        }
        case 'Q': {                                                       // BINPERSID
          auto pid = pop();
          if (!load_) fail(at, "a persistent id (a storage) where none is expected");
          push(load_(pid));
          break;
        }
        case 'P': {                                                       // PERSID
          auto pid = Value::str(line());
          if (!load_) fail(at, "a persistent id (a storage) where none is expected");
          push(load_(pid));
          break;
        }
        case 'R': {                                                       // REDUCE
          auto args = pop(), callable = pop();
          if (!args->is(Kind::Tuple)) fail(at, "REDUCE arguments are not a tuple");
          push(call(callable, args->items, at));
          break;
        }
        case 0x81: {                                                      // NEWOBJ
          auto args = pop(), cls = pop();
          push(object(cls, args->items));
          break;
        }
        case 0x92: {                                                      // NEWOBJ_EX
          auto kwargs = pop(), args = pop(), cls = pop();
          push(object(cls, args->items));
          break;
        }
        case 'b': {                                                       // BUILD
          auto state = pop();
          const auto& obj = top();
          // An OrderedDict's state is its _metadata, a tensor's its hooks: neither matters here.
          if (obj->is(Kind::Object)) obj->items.push_back(std::move(state));
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(at, std::string("unsupported pickle opcode ") + hex +
                       " (not written by torch.save; re-save the file with torch.save)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& msg) const {
    throw core::Error(what_ + ": " + msg + " at byte " + std::to_string(at));
  }
  char byte() {
    if (pos_ >= data_.size()) fail(pos_, "truncated pickle");
    return data_[pos_++];
  }
  std::string_view bytes(uint64_t n) {
    if (n > data_.size() - pos_) fail(pos_, "truncated pickle (a field of " + std::to_string(n) + " bytes)");
    auto v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  uint64_t le(int n) {
    const auto b = bytes(n);
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[k]);
    return v;
  }
  std::string line() {
    const auto end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail(pos_, "truncated pickle (an unterminated line)");
    std::string s(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  ValuePtr long_int(uint64_t n) {
    if (n > 8) {  // an integer beyond int64: kept as an opaque value
      bytes(n);
      auto o = std::make_shared<Value>();
      o->kind = Kind::Object;
      o->s = "int (beyond 64 bits)";
      return o;
    }
    if (n == 0) return Value::integer(0);
    const auto b = bytes(n);
    uint64_t v = 0;
    for (int k = static_cast<int>(n) - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[k]);
    if (n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return Value::integer(static_cast<int64_t>(v));
  }
  static ValuePtr raw(std::string_view b) {
    auto p = std::make_shared<Value>();
    p->kind = Kind::Bytes;
    p->s = std::string(b);
    return p;
  }
  static ValuePtr global(std::string name) {
    auto p = std::make_shared<Value>();
    p->kind = Kind::Global;
    p->s = std::move(name);
    return p;
  }
  static ValuePtr object(const ValuePtr& cls, std::vector<ValuePtr> args) {
    auto p = std::make_shared<Value>();
    p->kind = Kind::Object;
    p->s = cls->is(Kind::Global) ? cls->s : cls->type_name();
    p->items = std::move(args);
    return p;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  const ValuePtr& top() const {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) fail(pos_ - 1, "stack underflow");
    return stack_.back();
  }
  ValuePtr pop() {
    top();
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_n(std::size_t n) {
    const std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) fail(pos_ - 1, "stack underflow");
    std::vector<ValuePtr> v(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return v;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail(pos_ - 1, "no MARK on the stack");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> v(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return v;
  }
  ValuePtr memo(uint64_t key, std::size_t at) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(at, "a memo reference to nothing (" + std::to_string(key) + ")");
    return it->second;
  }
  Value* list_at(const ValuePtr& v, std::size_t at) const {
    if (!v->is(Kind::List)) fail(at, "APPEND to a " + v->type_name());
    return v.get();
  }
  Value* dict_at(const ValuePtr& v, std::size_t at) const {
    if (!v->is(Kind::Dict)) {
      if (v->is(Kind::Object)) return v.get();  // a dict subclass we do not know: keep its items
      fail(at, "SETITEM on a " + v->type_name());
    }
    return v.get();
  }
  void add_items(Value& d, const std::vector<ValuePtr>& kv, std::size_t at) const {
    if (kv.size() % 2) fail(at, "a dict with an odd number of keys and values");
    for (std::size_t k = 0; k < kv.size(); k += 2) d.entries.emplace_back(kv[k], kv[k + 1]);
  }

  static int64_t as_int(const ValuePtr& v, bool& ok) {
    if (!v->is(Kind::Int)) ok = false;
    return v->i;
  }

  torch::Tensor rebuild_tensor(const std::vector<ValuePtr>& a, std::size_t at) const {
    if (a.size() < 4) fail(at, "_rebuild_tensor with " + std::to_string(a.size()) + " arguments");
    if (!a[0]->is(Kind::Storage)) fail(at, "_rebuild_tensor over a " + a[0]->type_name() + ", not a storage");
    bool ok = a[2]->is(Kind::Tuple) && a[3]->is(Kind::Tuple) && a[2]->items.size() == a[3]->items.size();
    const int64_t offset = as_int(a[1], ok);
    std::vector<int64_t> size, stride;
    if (ok)
      for (std::size_t k = 0; k < a[2]->items.size(); ++k) {
        size.push_back(as_int(a[2]->items[k], ok));
        stride.push_back(as_int(a[3]->items[k], ok));
      }
    if (!ok) fail(at, "_rebuild_tensor with malformed offset, size or stride");
    const auto& storage = a[0]->tensor;
    const int64_t available = storage.numel();
    int64_t last = offset, numel = 1;
    bool overflow = false;
    for (std::size_t k = 0; k < size.size(); ++k) {
      if (size[k] < 0 || stride[k] < 0) fail(at, "a tensor with a negative size or stride");
      int64_t reach = 0;
      overflow |= __builtin_mul_overflow(numel, size[k], &numel);
      if (size[k] > 0) overflow |= __builtin_mul_overflow(size[k] - 1, stride[k], &reach) || __builtin_add_overflow(last, reach, &last);
    }
    if (overflow) fail(at, "a tensor of impossible size: corrupt file");
    if (offset < 0 || (numel > 0 && last >= available))
      fail(at, "a tensor reaching past its storage (" + std::to_string(available) + " elements): corrupt file");
    return torch::empty({0}, storage.options()).set_(storage.storage(), offset, size, stride);
  }

  ValuePtr call(const ValuePtr& callable, const std::vector<ValuePtr>& a, std::size_t at) const {
    if (!callable->is(Kind::Global)) return object(callable, a);
    const std::string& name = callable->s;
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      auto d = Value::dict(name == "collections.OrderedDict");
      if (!a.empty() && (a[0]->is(Kind::List) || a[0]->is(Kind::Tuple)))
        for (const auto& kv : a[0]->items) {
          if (!kv->is(Kind::Tuple) || kv->items.size() != 2) fail(at, "OrderedDict items are not pairs");
          d->entries.emplace_back(kv->items[0], kv->items[1]);
        }
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
      return Value::of_tensor(rebuild_tensor(a, at));
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || !a[0]->is(Kind::Tensor)) fail(at, name + " without a tensor");
      return a[0];
    }
    if (name == "torch.jit._pickle.restore_type_tag" || name.rfind("torch.jit._pickle.build_", 0) == 0) {
      if (a.empty()) fail(at, name + " without arguments");
      return a[0];
    }
    return object(callable, a);  // any other class: an opaque object naming it
  }

  std::string_view data_;
  std::size_t& pos_;
  const PersistentLoad& load_;
  const std::string& what_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

}  // namespace

ValuePtr unpickle(std::string_view data, std::size_t& pos, const PersistentLoad& persistent_load,
                  const std::string& what) {
  return Unpickler(data, pos, persistent_load, what).run();
}

// ---------------------------------------------------------------------------------------------
// Pickler

namespace {

class Pickler {
 public:
  explicit Pickler(const std::function<std::string(const torch::Tensor&)>& storage_key) : key_(storage_key) {}

  std::string run(const Value& v) {
    out_ += '\x80';
    out_ += '\x02';
    write(v);
    out_ += '.';
    return std::move(out_);
  }

 private:
  void op(uint8_t c) { out_ += static_cast<char>(c); }
  void le(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out_ += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      op('M');
      le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      op(0x8a);
      le(8, 1);
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void str(const std::string& s) {
    op('X');
    le(s.size(), 4);
    out_ += s;
  }
  void global(const char* module, const std::string& name) {
    op('c');
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void int_tuple(c10::IntArrayRef v) {
    op('(');
    for (auto x : v) integer(x);
    op('t');
  }
  void tensor(const torch::Tensor& t) {
    const std::string key = key_(t);
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');  // the persistent id
    str("storage");
    global("torch", storage_class(t.scalar_type()));
    str(key);
    str("cpu");
    integer(t.numel());
    op('t');
    op('Q');
    integer(0);
    int_tuple(t.sizes());
    std::vector<int64_t> stride(t.sizes().size(), 1);
    for (int64_t k = static_cast<int64_t>(stride.size()) - 2; k >= 0; --k) stride[k] = stride[k + 1] * std::max<int64_t>(t.size(k + 1), 1);
    int_tuple(stride);
    op(0x89);  // requires_grad False
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
  void write(const Value& v) {
    switch (v.kind) {
      case Kind::None: op('N'); break;
      case Kind::Bool: op(v.b ? 0x88 : 0x89); break;
      case Kind::Int: integer(v.i); break;
      case Kind::Float: {
        uint64_t bits;
        std::memcpy(&bits, &v.f, sizeof bits);
        op('G');
        for (int k = 7; k >= 0; --k) out_ += static_cast<char>((bits >> (8 * k)) & 0xff);
        break;
      }
      case Kind::Str: str(v.s); break;
      case Kind::Tuple:
      case Kind::List:
        if (v.kind == Kind::List) op(']');
        op('(');
        for (const auto& x : v.items) write(*x);
        op(v.kind == Kind::List ? 'e' : 't');
        break;
      case Kind::Dict:
        if (v.ordered) {
          global("collections", "OrderedDict");
          op(')');
          op('R');
        } else {
          op('}');
        }
        if (!v.entries.empty()) {
          op('(');
          for (const auto& [k, x] : v.entries) {
            write(*k);
            write(*x);
          }
          op('u');
        }
        break;
      case Kind::Tensor: tensor(v.tensor); break;
      default: throw core::Error("cannot pickle a value of type " + v.type_name());
    }
  }

  const std::function<std::string(const torch::Tensor&)>& key_;
  std::string out_;
};

}  // namespace

std::string dumps(const Value& value, const std::function<std::string(const torch::Tensor&)>& storage_key) {
  return Pickler(storage_key).run(value);
}

}  // namespace ptx::models::pickle

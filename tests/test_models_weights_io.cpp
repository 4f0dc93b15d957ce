// Reading weight files written by Python (src/ptx/models/pickle, torch_file, safetensors,
// weight_file): torch.save zip and legacy files of torchvision state_dicts, checkpoint layouts,
// dtypes and shared storages, .safetensors both ways, and corrupt files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/models/pickle.h"
#include "ptx/models/safetensors.h"
#include "ptx/models/torch_file.h"
#include "ptx/models/weight_file.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;

namespace {

constexpr const char* kScript = R"PY(
import sys, json, struct, collections, argparse, torch, torchvision
OUT = sys.argv[1]
torch.manual_seed(0)

def randomize(m):
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-1, 1)
                mod.running_var.uniform_(0.5, 2)
                mod.num_batches_tracked.fill_(7)
    return m

m = randomize(torchvision.models.resnet18())
sd = m.state_dict()
torch.save(sd, OUT + "/resnet18.pth")
torch.save(sd, OUT + "/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
torch.save({k: v for k, v in sd.items()}, OUT + "/resnet18_plain.pt")  # read by LibTorch as the reference

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
extra = collections.OrderedDict()
extra["half"] = torch.linspace(-1, 1, 5).half()
extra["double"] = torch.linspace(-1, 1, 5).double() / 3
extra["long"] = torch.arange(-3, 3) * (2 ** 40)
extra["int"] = torch.arange(-3, 3, dtype=torch.int32)
extra["bf16"] = torch.linspace(-2, 2, 4).bfloat16()
extra["bool"] = torch.tensor([True, False, True])
extra["uint8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
extra["base"] = base
extra["view"] = base[1:3, 2:5]
extra["transposed"] = base.t()
extra["scalar"] = torch.tensor(3.5)
extra["param"] = torch.nn.Parameter(torch.ones(2, 2))
torch.save(extra, OUT + "/extra.pth")
json.dump({k: {"shape": list(v.shape), "values": v.detach().double().flatten().tolist()} for k, v in extra.items()},
          open(OUT + "/extra.json", "w"))

dp = torch.nn.DataParallel(m)
ckpt = {"epoch": 12, "best_dice": 0.8125, "state_dict": dp.state_dict(), "optimizer": {"lr": 0.1, "momentum": [0.9]},
        "args": argparse.Namespace(lr=0.1, arch="resnet18"), "big": 2 ** 70, "none": None}
try:
    import numpy
    ckpt["np_score"] = numpy.float64(0.5)
    ckpt["np_array"] = numpy.arange(3)
except ImportError:
    pass
torch.save(ckpt, OUT + "/dp_checkpoint.pth")
torch.save({"model": sd, "epoch": 1}, OUT + "/under_model.pth")
torch.save({"epoch": 1, "optimizer": {}}, OUT + "/no_state_dict.pth")
torch.save([torch.zeros(2)], OUT + "/a_list.pth")
torch.save(m, OUT + "/whole_module.pth")
torch.save({"model": m, "epoch": 2}, OUT + "/whole_module_in_dict.pth")
torch.save({"state_dict": {"w": torch.zeros(2), "score": 0.5}}, OUT + "/non_tensor_entry.pth")

def save_safetensors(path, tensors, metadata):
    names = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for k, v in tensors.items():
        b = v.contiguous().numpy().tobytes() if v.dtype != torch.float16 else v.contiguous().view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

st = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([1, -2], dtype=torch.int64),
      "c": torch.tensor([0.5, -1.5], dtype=torch.float16), "d": torch.tensor([3, 200], dtype=torch.uint8),
      "e": torch.tensor([True, False])}
# Storages tagged with a GPU location (as saved on a GPU machine) load on the CPU.
torch.serialization.register_package(1, lambda obj: "cuda:0", lambda obj, location: None)
torch.save({"w": torch.arange(4.0)}, OUT + "/cuda_tagged.pth")

try:
    from safetensors.torch import save_file
    save_file(st, OUT + "/py.safetensors", metadata={"source": "python"})
except ImportError:
    save_safetensors(OUT + "/py.safetensors", st, {"source": "python"})
)PY";

class ModelsWeightsIo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ref_ = test::run_python_reference(kScript).release(); }
  static void TearDownTestSuite() {
    delete ref_;
    ref_ = nullptr;
  }
  void SetUp() override {
    if (!ref_->skip_reason.empty()) GTEST_SKIP() << ref_->skip_reason;
    ASSERT_TRUE(ref_->failure.empty()) << ref_->failure;
  }
  static std::string file(const std::string& name) { return ref_->dir / name; }
  static test::PythonReference* ref_;
};
test::PythonReference* ModelsWeightsIo::ref_ = nullptr;

void expect_same(const models::NamedTensors& a, const models::NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_EQ(t.scalar_type(), b.at(name).scalar_type()) << name;
    EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  }
}

}  // namespace

TEST_F(ModelsWeightsIo, BareStateDictOfTorchvisionResnet18) {
  const auto w = models::read_weights(file("resnet18.pth"));
  EXPECT_EQ(w.format, "torch.save");
  EXPECT_EQ(w.location, "");
  EXPECT_TRUE(w.spec_json.empty());
  // LibTorch's own unpickler reads the plain-dict copy: the reference values.
  const auto reference = models::read_tensor_dict(file("resnet18_plain.pt"));
  expect_same(w.tensors, reference);
  EXPECT_EQ(w.tensors.size(), 122u);  // 62 parameters + 3 x 20 batch-norm buffers
  EXPECT_EQ(w.tensors.at("layer2.0.bn1.num_batches_tracked").item<int64_t>(), 7);
  EXPECT_EQ(models::parameter_count(w.tensors), 11689512);  // torchvision's resnet18
}

TEST_F(ModelsWeightsIo, LegacyFormatReadsTheSame) {
  const auto w = models::read_weights(file("resnet18_legacy.pth"));
  expect_same(w.tensors, models::read_tensor_dict(file("resnet18_plain.pt")));
}

TEST_F(ModelsWeightsIo, DtypesViewsAndSharedStorages) {
  const auto w = models::read_weights(file("extra.pth"));
  std::ifstream in(file("extra.json"));
  const auto expected = nlohmann::json::parse(in);
  ASSERT_EQ(w.tensors.size(), expected.size());
  for (const auto& [name, e] : expected.items()) {
    const auto& t = w.tensors.at(name);
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>()) << name;
    const auto values = t.to(torch::kFloat64).flatten();
    const auto want = e["values"].get<std::vector<double>>();
    ASSERT_EQ(values.numel(), static_cast<int64_t>(want.size())) << name;
    for (std::size_t k = 0; k < want.size(); ++k) EXPECT_EQ(values[k].item<double>(), want[k]) << name << "[" << k << "]";
  }
  EXPECT_EQ(w.tensors.at("half").scalar_type(), torch::kFloat16);
  EXPECT_EQ(w.tensors.at("double").scalar_type(), torch::kFloat64);
  EXPECT_EQ(w.tensors.at("long").scalar_type(), torch::kInt64);
  EXPECT_EQ(w.tensors.at("int").scalar_type(), torch::kInt32);
  EXPECT_EQ(w.tensors.at("bf16").scalar_type(), torch::kBFloat16);
  EXPECT_EQ(w.tensors.at("bool").scalar_type(), torch::kBool);
  EXPECT_EQ(w.tensors.at("uint8").scalar_type(), torch::kUInt8);
  EXPECT_EQ(w.tensors.at("scalar").dim(), 0);
  // Views share the storage of their base, as in Python.
  const auto& base = w.tensors.at("base");
  const auto& view = w.tensors.at("view");
  EXPECT_TRUE(view.is_alias_of(base));
  EXPECT_TRUE(w.tensors.at("transposed").is_alias_of(base));
  EXPECT_EQ(view.storage_offset(), 8);
  EXPECT_FALSE(view.is_contiguous());
  base.fill_(-1);
  EXPECT_EQ(view.sum().item<float>(), -6.0f);
}

TEST_F(ModelsWeightsIo, CheckpointDictWithModulePrefixAndForeignObjects) {
  const auto w = models::read_weights(file("dp_checkpoint.pth"));
  EXPECT_EQ(w.location, "state_dict");
  ASSERT_EQ(w.tensors.size(), 122u);
  for (const auto& kv : w.tensors) EXPECT_EQ(kv.first.rfind("module.", 0), 0u) << kv.first;
  EXPECT_TRUE(torch::equal(w.tensors.at("module.conv1.weight"),
                           models::read_tensor_dict(file("resnet18_plain.pt")).at("conv1.weight")));
  // The other entries are read as values (argparse and numpy objects kept opaque).
  const auto root = models::read_torch_file(file("dp_checkpoint.pth"));
  EXPECT_EQ(root->get("epoch")->i, 12);
  EXPECT_EQ(root->get("best_dice")->f, 0.8125);
  EXPECT_EQ(root->get("args")->type_name(), "argparse.Namespace");
  EXPECT_TRUE(root->get("none")->is(models::pickle::Kind::None));
  EXPECT_EQ(models::read_weights(file("under_model.pth")).location, "model");
}

TEST_F(ModelsWeightsIo, WholePickledModulesGiveTheirStateDict) {
  const auto reference = models::read_tensor_dict(file("resnet18_plain.pt"));
  auto w = models::read_weights(file("whole_module.pth"));
  EXPECT_EQ(w.location, "(a pickled torchvision.models.resnet.ResNet)");
  expect_same(w.tensors, reference);
  w = models::read_weights(file("whole_module_in_dict.pth"));
  EXPECT_EQ(w.location, "model (a pickled torchvision.models.resnet.ResNet)");
  expect_same(w.tensors, reference);
}

TEST_F(ModelsWeightsIo, FilesWithoutAStateDictAreErrorsSayingWhatIsThere) {
  auto msg = test::error_of([&] { models::read_weights(file("no_state_dict.pth")); });
  EXPECT_NE(msg.find("no_state_dict.pth: no state_dict found (top-level keys: epoch (int), optimizer (dict))"),
            std::string::npos) << msg;
  msg = test::error_of([&] { models::read_weights(file("a_list.pth")); });
  EXPECT_NE(msg.find("a_list.pth: holds a list"), std::string::npos) << msg;
  msg = test::error_of([&] { models::read_weights(file("non_tensor_entry.pth")); });
  EXPECT_NE(msg.find("non_tensor_entry.pth: state_dict['score'] is a float, not a tensor"), std::string::npos) << msg;
}

TEST_F(ModelsWeightsIo, TensorsSavedFromAGpuComeOutOnTheCpu) {
  const auto w = models::read_weights(file("cuda_tagged.pth"));
  ASSERT_EQ(w.tensors.size(), 1u);
  EXPECT_TRUE(w.tensors.at("w").device().is_cpu());
  EXPECT_TRUE(torch::equal(w.tensors.at("w"), torch::arange(4.0)));
}

TEST_F(ModelsWeightsIo, SafetensorsWrittenByPython) {
  const auto f = models::read_safetensors(file("py.safetensors"));
  EXPECT_EQ(f.metadata.at("source"), "python");
  ASSERT_EQ(f.tensors.size(), 5u);
  EXPECT_TRUE(torch::equal(f.tensors.at("a"), torch::arange(6, torch::kFloat32).reshape({2, 3})));
  EXPECT_TRUE(torch::equal(f.tensors.at("b"), torch::tensor({1, -2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(f.tensors.at("c"), torch::tensor({0.5, -1.5}).to(torch::kFloat16)));
  EXPECT_TRUE(torch::equal(f.tensors.at("d"), torch::tensor({3, 200}).to(torch::kUInt8)));
  EXPECT_TRUE(torch::equal(f.tensors.at("e"), torch::tensor({true, false})));
  // The same through the generic reader, and from Python's reading of ours.
  EXPECT_EQ(models::read_weights(file("py.safetensors")).format, "safetensors");
}

TEST(ModelsWeightsSafetensors, RoundTripAllDtypes) {
  test::TempDir tmp;
  torch::manual_seed(3);
  models::NamedTensors t{
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({2}).to(torch::kFloat64)},
      {"i64", torch::tensor({-(int64_t{1} << 40), int64_t{5}})},
      {"i32", torch::tensor({-7, 9}, torch::kInt32)},
      {"i16", torch::tensor({-7, 9}, torch::kInt16)},
      {"i8", torch::tensor({-7, 9}, torch::kInt8)},
      {"u8", torch::tensor({7, 250}).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"empty", torch::zeros({0, 3})},
      {"scalar", torch::tensor(2.5)},
      {"strided", torch::arange(12.0).reshape({3, 4}).t()},
  };
  models::write_safetensors(tmp / "t.safetensors", t, {{"spec", "{\"a\": 1}"}});
  const auto back = models::read_safetensors(tmp / "t.safetensors");
  EXPECT_EQ(back.metadata.at("spec"), "{\"a\": 1}");
  expect_same(back.tensors, t);
  // The data starts 8-byte aligned.
  const std::string bytes = core::read_file(tmp / "t.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(ModelsWeightsSafetensors, CorruptFilesAreErrorsNamingTheFile) {
  test::TempDir tmp;
  models::write_safetensors(tmp / "ok.safetensors", {{"w", torch::ones({4, 4})}});
  const std::string good = core::read_file(tmp / "ok.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  const std::string header = good.substr(8, n);
  const auto with_header = [&](std::string h, std::size_t data_bytes) {
    std::string out(8, '\0');
    const uint64_t len = h.size();
    std::memcpy(out.data(), &len, 8);
    return out + h + std::string(data_bytes, '\0');
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {"short", "abc"},
      {"truncated", good.substr(0, good.size() - 1)},
      {"huge_header", std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10)},
      {"not_json", with_header("{nope", 0)},
      {"bad_dtype", with_header(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1)},
      {"past_end", with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)},
      {"wrong_size", with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)},
      {"negative_shape", with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)},
      {"overlap", with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)},
      {"missing_field", with_header(R"({"w":{"dtype":"F32","shape":[1]}})", 4)},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = tmp / (name + ".safetensors");
    core::write_file_atomic(path, bytes);
    const auto msg = test::error_of([&] { models::read_weights(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << name << ": " << msg;
  }
}

TEST(ModelsWeightsTorchFile, CorruptAndTruncatedFilesAreErrorsNeverCrashes) {
  test::TempDir tmp;
  auto v = models::pickle::Value::dict(true);
  for (int k = 0; k < 4; ++k) v->set("t" + std::to_string(k), models::pickle::Value::of_tensor(torch::randn({16, 16})));
  const std::string good = models::torch_file_bytes(*v);
  core::write_file_atomic(tmp / "good.pth", good);
  EXPECT_EQ(models::read_weights(tmp / "good.pth").tensors.size(), 4u);
  EXPECT_NE(test::error_of([&] { models::read_weights(tmp / "absent.pth"); }).find("absent.pth"), std::string::npos);
  core::write_file_atomic(tmp / "text.pth", "hello, not a weight file");
  EXPECT_NE(test::error_of([&] { models::read_weights(tmp / "text.pth"); }).find("text.pth: not a torch.save file"),
            std::string::npos);
  // Every truncation, and bytes flipped throughout: always a core::Error naming the file.
  std::size_t errors = 0;
  for (std::size_t cut = 1; cut < good.size(); cut += std::max<std::size_t>(1, good.size() / 97)) {
    core::write_file_atomic(tmp / "cut.pth", good.substr(0, cut));
    const auto msg = test::error_of([&] { models::read_weights(tmp / "cut.pth"); });
    EXPECT_NE(msg.find("cut.pth"), std::string::npos) << "cut at " << cut << ": " << msg;
    errors += !msg.empty();
  }
  EXPECT_GT(errors, 90u);
  for (std::size_t at = 0; at < good.size(); at += 13) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    core::write_file_atomic(tmp / "flip.pth", bad);
    try {
      models::read_weights(tmp / "flip.pth");  // a flipped data byte may still read
    } catch (const core::Error& e) {
      EXPECT_NE(std::string(e.what()).find("flip.pth"), std::string::npos) << e.what();
    }
  }
}

TEST(ModelsWeightsPickle, MalformedPicklesAreErrors) {
  const std::vector<std::string> bad{
      std::string("\x80\x02", 2),                       // no STOP
      std::string("\x80\x02\xff.", 4),                  // unknown opcode
      std::string("\x80\x02X\xff\xff\xff\x7f", 8),      // a string longer than the data
      std::string("\x80\x02h\x05.", 5),                 // memo reference to nothing
      std::string("\x80\x02s.", 4),                     // SETITEM on an empty stack
      std::string("\x80\x02N\x85" "a.", 6),             // APPEND to a tuple
      std::string("\x80\x02(N(t.", 6),                  // STOP with marks left
  };
  for (const auto& b : bad) {
    const auto msg = test::error_of([&] { models::pickle::unpickle(b, nullptr, "x.pth"); });
    EXPECT_EQ(msg.rfind("x.pth: ", 0), 0u) << msg;
  }
  const auto msg = test::error_of([&] { models::pickle::unpickle(std::string("\x80\x02\xff.", 4), nullptr, "x.pth"); });
  EXPECT_NE(msg.find("unsupported pickle opcode 0xff"), std::string::npos) << msg;
}

TEST(ModelsWeightsPickle, WrittenValuesReadBack) {
  using models::pickle::Value;
  auto d = Value::dict();
  d->set("int", Value::integer(-5));
  d->set("big", Value::integer(int64_t{1} << 50));
  d->set("u16", Value::integer(40000));
  d->set("float", Value::real(0.1));
  d->set("str", Value::str("héllo"));
  d->set("list", Value::list({Value::boolean(true), Value::none()}));
  d->set("tuple", Value::tuple({Value::integer(1)}));
  d->set("tensor", Value::of_tensor(torch::arange(6).reshape({2, 3}).t()));
  test::TempDir tmp;
  models::write_torch_file(tmp / "v.pth", *d);
  const auto back = models::read_torch_file(tmp / "v.pth");
  ASSERT_TRUE(back->is(models::pickle::Kind::Dict));
  EXPECT_EQ(back->get("int")->i, -5);
  EXPECT_EQ(back->get("big")->i, int64_t{1} << 50);
  EXPECT_EQ(back->get("u16")->i, 40000);
  EXPECT_EQ(back->get("float")->f, 0.1);
  EXPECT_EQ(back->get("str")->s, "h\xc3\xa9llo");
  ASSERT_EQ(back->get("list")->items.size(), 2u);
  EXPECT_TRUE(back->get("list")->items[0]->b);
  EXPECT_TRUE(back->get("list")->items[1]->is(models::pickle::Kind::None));
  EXPECT_EQ(back->get("tuple")->items.at(0)->i, 1);
  EXPECT_TRUE(torch::equal(back->get("tensor")->tensor, torch::arange(6).reshape({2, 3}).t()));
  EXPECT_EQ(back->get("absent"), nullptr);
}

TEST(ModelsWeightsPickle, TensorsReachingPastTheirStorageAreErrors) {
  using models::pickle::Value;
  const models::pickle::PersistentLoad load = [](const models::pickle::ValuePtr&) {
    auto v = std::make_shared<Value>();
    v->kind = models::pickle::Kind::Storage;
    v->tensor = torch::zeros({4});
    return v;
  };
  const auto long1 = [](int64_t v) { std::string s("\x8a\x08", 2); s.append(reinterpret_cast<const char*>(&v), 8); return s; };
  const auto pickle_of = [&](const std::string& size, const std::string& stride) {
    return std::string("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(NQK\x00", 40) + "(" + size + "t(" + stride +
           "t\x89}tR.";
  };
  // Fits: 2 x 2 over 4 elements.
  auto ok = models::pickle::unpickle(pickle_of("K\x02K\x02", "K\x02K\x01"), load, "x.pth");
  EXPECT_EQ(ok->tensor.sizes(), torch::IntArrayRef({2, 2}));
  for (const auto& [size, stride] : std::vector<std::pair<std::string, std::string>>{
           {"K\x02K\x03", "K\x02K\x01"},                                            // 6 elements of 4
           {long1(int64_t{1} << 62) + "K\x02", long1(int64_t{1} << 62) + "K\x01"},   // overflows int64
           {"K\x02", "J\xff\xff\xff\xff"}}) {                                        // negative stride
    const auto msg = test::error_of([&] { models::pickle::unpickle(pickle_of(size, stride), load, "x.pth"); });
    EXPECT_EQ(msg.rfind("x.pth: ", 0), 0u) << msg;
  }
}

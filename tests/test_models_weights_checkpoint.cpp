// ptx checkpoints (checkpoint.h): round trips with a training state, Python's torch.load reading
// them into torchvision, the .safetensors export, and the `ptx weights` command.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/torch_file.h"
#include "ptx/models/weight_file.h"
#include "test_support.h"

using namespace ptx;

namespace {

const char* const kSmallUnet =
    R"({"arch": "unet", "encoder": "resnet18", "in_channels": 1, "decoder_channels": [32, 16, 16, 8, 8]})";

models::ModelSpec spec_of(const std::string& json) { return nlohmann::json::parse(json).get<models::ModelSpec>(); }

// A model with non-trivial batch-norm statistics, as after training.
models::ModelPtr trained(const models::ModelSpec& spec, uint64_t seed = 4) {
  torch::manual_seed(seed);
  auto m = models::build_model(spec);
  torch::NoGradGuard no_grad;
  for (auto& b : m->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    if (b.key().find("num_batches") != std::string::npos) b.value().fill_(21);
  }
  return m;
}

void expect_same(const models::NamedTensors& a, const models::NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  }
}

// Runs a Python script with one argument; "" and a skip reason when torch cannot be imported.
struct PythonRun {
  int code = 0;
  std::string out, skip;
};
PythonRun run_python(const std::string& script, const std::string& arg) {
  test::TempDir tmp;
  PythonRun r;
  const char* env = std::getenv("PTX_REFERENCE_PYTHON");
  const std::string python = env ? env : "/usr/bin/python3";
  if (std::system((python + " -c 'import torch, torchvision' >/dev/null 2>&1").c_str()) != 0) {
    r.skip = python + " cannot import torch and torchvision: Python check skipped";
    return r;
  }
  std::ofstream(tmp / "s.py") << script;
  const int status = std::system((python + " " + (tmp / "s.py") + " '" + arg + "' >" + (tmp / "out") + " 2>&1").c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(tmp / "out");
  r.out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

}  // namespace

TEST(ModelsWeightsCheckpoint, RoundTripWithTrainingStateRebuildsTheModel) {
  test::TempDir tmp;
  const auto spec = spec_of(kSmallUnet);
  auto model = trained(spec);
  models::TrainState state{{{"optimizer.exp_avg.0", torch::randn({3, 3})}, {"step", torch::tensor(int64_t{17})}},
                           R"({"epoch": 3, "lr": 0.001})"};
  models::save_checkpoint(tmp / "c.pth", models::make_checkpoint(*model, spec, state));

  const auto c = models::load_checkpoint(tmp / "c.pth");
  EXPECT_EQ(nlohmann::json(c.spec), nlohmann::json(spec));
  expect_same(c.state_dict, models::named_tensors(*model));
  ASSERT_TRUE(c.train_state.has_value());
  expect_same(c.train_state->tensors, state.tensors);
  EXPECT_EQ(c.train_state->json, state.json);

  models::ModelSpec got;
  auto rebuilt = models::build_model_from_checkpoint(tmp / "c.pth", torch::kCPU, &got);
  EXPECT_EQ(nlohmann::json(got), nlohmann::json(spec));
  EXPECT_FALSE(rebuilt->is_training());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({1, 1, 64, 64});
  EXPECT_TRUE(torch::equal(model->forward(x), rebuilt->forward(x)));

  // Without a training state; no temporary files are left beside the target.
  models::save_checkpoint(tmp / "c.pth", models::make_checkpoint(*model, spec));
  EXPECT_FALSE(models::load_checkpoint(tmp / "c.pth").train_state.has_value());
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(ModelsWeightsCheckpoint, SafetensorsExportCarriesTheSpec) {
  test::TempDir tmp;
  const auto spec = spec_of(kSmallUnet);
  auto model = trained(spec, 8);
  models::export_safetensors(tmp / "m.safetensors", models::make_checkpoint(*model, spec));
  const auto w = models::read_weights(tmp / "m.safetensors");
  EXPECT_EQ(w.format, "safetensors");
  EXPECT_EQ(nlohmann::json::parse(w.spec_json), nlohmann::json(spec));
  auto rebuilt = models::build_model_from_checkpoint(tmp / "m.safetensors");
  expect_same(models::named_tensors(*rebuilt), models::named_tensors(*model));
}

TEST(ModelsWeightsCheckpoint, PlainStateDictsAndBadSpecsAreErrors) {
  test::TempDir tmp;
  auto v = models::pickle::Value::dict(true);
  v->set("w", models::pickle::Value::of_tensor(torch::zeros({2})));
  models::write_torch_file(tmp / "plain.pth", *v);
  auto msg = test::error_of([&] { models::load_checkpoint(tmp / "plain.pth"); });
  EXPECT_NE(msg.find("plain.pth: no model spec"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ptx weights convert"), std::string::npos) << msg;

  // A checkpoint whose weights do not fit its spec.
  models::Checkpoint c;
  c.spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 2})");
  c.state_dict = {{"fc.weight", torch::zeros({2, 512})}};
  models::save_checkpoint(tmp / "wrong.pth", c);
  msg = test::error_of([&] { models::build_model_from_checkpoint(tmp / "wrong.pth"); });
  EXPECT_NE(msg.find("wrong.pth: the weights do not fit"), std::string::npos) << msg;
  // A newer format version.
  auto root = models::read_torch_file(tmp / "wrong.pth");
  for (auto& [k, val] : root->entries)
    if (k->s == "version") val = models::pickle::Value::integer(2);
  models::write_torch_file(tmp / "newer.pth", *root);
  msg = test::error_of([&] { models::load_checkpoint(tmp / "newer.pth"); });
  EXPECT_NE(msg.find("newer.pth: a ptx checkpoint of version 2"), std::string::npos) << msg;
}

TEST(ModelsWeightsCheckpoint, PythonTorchLoadReadsItIntoTorchvision) {
  test::TempDir tmp;
  const auto spec = spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 3})");
  auto model = trained(spec, 6);
  models::TrainState state{{{"momentum", torch::arange(4.0)}}, R"({"epoch": 7})"};
  models::save_checkpoint(tmp / "cls.pth", models::make_checkpoint(*model, spec, state));
  const auto r = run_python(R"PY(
import sys, json, collections, torch, torchvision
ck = torch.load(sys.argv[1])
torch.load(sys.argv[1], weights_only=True)  # only OrderedDict, tensors and builtins: the safe loader reads it
assert ck["format"] == "ptx-checkpoint" and ck["version"] == 1, ck.keys()
spec = json.loads(ck["spec"])
sd = ck["state_dict"]
assert isinstance(sd, collections.OrderedDict), type(sd)
m = torchvision.models.resnet18(num_classes=spec["classes"])
m.load_state_dict(sd)  # strict
m.eval()
with torch.no_grad():
    y = m(torch.ones(1, 3, 64, 64))
print(json.dumps({"out": y.flatten().tolist(), "epoch": json.loads(ck["train_state"]["json"])["epoch"],
                  "momentum": ck["train_state"]["tensors"]["momentum"].tolist(),
                  "tracked": int(sd["bn1.num_batches_tracked"])}))
)PY",
                          tmp / "cls.pth");
  if (!r.skip.empty()) GTEST_SKIP() << r.skip;
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.rfind('{')));
  model->eval();
  torch::NoGradGuard no_grad;
  const auto y = model->forward(torch::ones({1, 3, 64, 64})).flatten();
  const auto py = j["out"].get<std::vector<double>>();
  ASSERT_EQ(py.size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(y[k].item<double>(), py[k], 1e-4);
  EXPECT_EQ(j["epoch"], 7);
  EXPECT_EQ(j["momentum"], nlohmann::json({0.0, 1.0, 2.0, 3.0}));
  EXPECT_EQ(j["tracked"], 21);
}

// ---------------------------------------------------------------------------------------------
// ptx weights

namespace {

// A DataParallel-style training checkpoint of an ImageNet-shaped resnet18 classifier.
void write_dp_checkpoint(const std::string& path) {
  auto model = trained(spec_of(R"({"arch": "classifier", "encoder": "resnet18", "classes": 1000})"), 2);
  auto sd = models::pickle::Value::dict(true);
  for (const auto& [k, t] : models::named_tensors(*model)) sd->set("module." + k, models::pickle::Value::of_tensor(t));
  auto root = models::pickle::Value::dict();
  root->set("epoch", models::pickle::Value::integer(30));
  root->set("state_dict", sd);
  models::write_torch_file(path, *root);
}

}  // namespace

TEST(WeightsCli, InspectListsTensorsCountAndSpec) {
  test::TempDir tmp;
  write_dp_checkpoint(tmp / "dp.pth");
  auto r = test::run_ptx("weights inspect " + (tmp / "dp.pth") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["count"], 122);
  EXPECT_EQ(j["parameters"], 11689512);
  EXPECT_EQ(j["location"], "state_dict");
  EXPECT_TRUE(j["spec"].is_null());
  EXPECT_EQ(j["tensors"][0]["name"], "module.bn1.bias");
  EXPECT_EQ(j["tensors"][0]["dtype"], "Float");
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json({64}));

  r = test::run_ptx("weights inspect " + (tmp / "dp.pth"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("module.conv1.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[64, 3, 7, 7]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("122 tensors, 11689512 parameters"), std::string::npos) << r.out;
}

TEST(WeightsCli, ConvertImportsIntoAOneChannelUnetAndWritesBothFormats) {
  test::TempDir tmp;
  write_dp_checkpoint(tmp / "dp.pth");
  const std::string spec = R"('{"arch":"unet","encoder":"resnet18","in_channels":1,"decoder_channels":[32,16,16,8,8]}')";
  auto r = test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "out.pth") + " --spec " + spec + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mapping"], "into the encoder");
  EXPECT_EQ(j["stripped_prefix"], "module.");
  EXPECT_EQ(j["loaded"], 120);
  EXPECT_EQ(j["format"], "ptx");
  EXPECT_EQ(j["adapted"].size(), 1u);
  auto model = models::build_model_from_checkpoint(tmp / "out.pth");
  const auto source = models::read_weights(tmp / "dp.pth").tensors;
  EXPECT_TRUE(torch::equal(models::named_tensors(*model).at("encoder.layer4.1.bn2.running_var"),
                           source.at("module.layer4.1.bn2.running_var")));

  // Human output; safetensors by the extension; the ptx checkpoint's own spec is the default.
  r = test::run_ptx("weights convert " + (tmp / "out.pth") + " " + (tmp / "out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(safetensors): "), std::string::npos) << r.out;
  r = test::run_ptx("weights inspect --json " + (tmp / "out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["spec"]["in_channels"], 1);
}

TEST(WeightsCli, ErrorsAndUsage) {
  test::TempDir tmp;
  write_dp_checkpoint(tmp / "dp.pth");
  // Strict failure: one line naming the file and the way out.
  auto r = test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "o.pth") +
                         R"( --spec '{"arch":"classifier","encoder":"resnet18","classes":2}')");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: " + (tmp / "dp.pth") + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--non-strict"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "o.pth"));
  r = test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "o.pth") +
                    R"( --non-strict --spec '{"arch":"classifier","encoder":"resnet18","classes":2}')");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 mis-shaped"), std::string::npos) << r.out;

  // Usage errors: exit 2.
  EXPECT_EQ(test::run_ptx("weights").exit_code, 2);
  EXPECT_EQ(test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "o.pth") + " --spec '{bad json'").exit_code, 2);
  EXPECT_EQ(test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "o.pth")).exit_code, 2);  // no spec
  EXPECT_EQ(test::run_ptx("weights convert " + (tmp / "dp.pth") + " " + (tmp / "o.pth") + " --format onnx").exit_code, 2);
  EXPECT_EQ(test::run_ptx("weights inspect").exit_code, 2);
  // Runtime errors: exit 1, naming the file.
  core::write_file_atomic(tmp / "junk.pth", "junk");
  r = test::run_ptx("weights inspect " + (tmp / "junk.pth"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.pth"), std::string::npos) << r.err;
  for (const char* help : {"weights --help", "weights inspect --help", "weights convert --help"}) {
    r = test::run_ptx(help);
    EXPECT_EQ(r.exit_code, 0) << help;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << help;
  }
}

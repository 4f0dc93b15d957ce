// Optimisers (src/ptx/train/optimizers, radam): RAdam, Adam, AdamW and SGD against PyTorch's
// trajectories (Debian's python3-torch, run at test time), discriminative learning rates,
// state save/restore that continues identically, gradient clipping, config errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/models/registry.h"
#include "ptx/models/weights.h"
#include "ptx/train/optimizers.h"
#include "ptx/train/radam.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using namespace ptx::train;
using nlohmann::json;

namespace {

// The problem both sides minimise: sum(W (p - C)^2) + 0.1 sum(p^3), from P0.
torch::Tensor p0() { return torch::tensor({{0.5, -1.0, 2.0}, {0.1, 0.0, -0.3}}, torch::kFloat32); }
torch::Tensor objective(const torch::Tensor& p) {
  const auto c = torch::tensor({{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.2}}, torch::kFloat32);
  const auto w = torch::tensor({{1.0, 0.5, 2.0}, {3.0, 1.0, 0.25}}, torch::kFloat32);
  return (w * (p - c).pow(2)).sum() + 0.1 * p.pow(3).sum();
}

// name -> (PyTorch constructor, our config); 8 steps each.
const std::vector<std::tuple<std::string, std::string, json>> kCases = {
    {"radam", "torch.optim.RAdam(ps, lr=0.1)", {{"type", "radam"}, {"lr", 0.1}}},
    {"radam_wd", "torch.optim.RAdam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)",
     {{"type", "radam"}, {"lr", 0.05}, {"betas", {0.8, 0.9}}, {"weight_decay", 0.1}}},
    {"adam", "torch.optim.Adam(ps, lr=0.1, weight_decay=0.01)",
     {{"type", "adam"}, {"lr", 0.1}, {"weight_decay", 0.01}}},
    {"adamw", "torch.optim.AdamW(ps, lr=0.1, weight_decay=0.1, amsgrad=True)",
     {{"type", "adamw"}, {"lr", 0.1}, {"weight_decay", 0.1}, {"amsgrad", true}}},
    {"sgd_nesterov", "torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)",
     {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 0.01}}},
};

std::string reference_script() {
  std::string s = R"PY(
import sys, json, torch
OUT = sys.argv[1]
P0 = torch.tensor([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]])
C = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.2]])
W = torch.tensor([[1.0, 0.5, 2.0], [3.0, 1.0, 0.25]])
def run(make):
    p = torch.nn.Parameter(P0.clone())
    opt = make([p])
    out = []
    for _ in range(8):
        opt.zero_grad()
        ((W * (p - C) ** 2).sum() + 0.1 * (p ** 3).sum()).backward()
        opt.step()
        out.append(p.detach().flatten().tolist())
    return out
res = {}
)PY";
  for (const auto& [name, ctor, config] : kCases) s += "res['" + name + "'] = run(lambda ps: " + ctor + ")\n";
  s += "json.dump(res, open(OUT + '/optim.json', 'w'))\n";
  return s;
}

class OptimizerParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(reference_script().c_str()).release(); }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
  }
  static test::PythonReference* reference_;
};
test::PythonReference* OptimizerParity::reference_ = nullptr;

Optimizer single(const json& config, const torch::Tensor& p) {
  return Optimizer(config.get<OptimizerConfig>(), {ParamGroup{"all", 1.0, {"p"}, {p}}});
}

}  // namespace

TEST_F(OptimizerParity, TrajectoriesMatchPyTorch) {
  if (!reference_->skip_reason.empty()) GTEST_SKIP() << reference_->skip_reason;
  ASSERT_TRUE(reference_->failure.empty()) << reference_->failure;
  const auto expected = json::parse(std::ifstream(reference_->dir / "optim.json"));
  for (const auto& [name, ctor, config] : kCases) {
    auto p = p0().requires_grad_(true);
    auto opt = single(config, p);
    double worst = 0;
    for (int step = 0; step < 8; ++step) {
      opt.zero_grad();
      objective(p).backward();
      opt.step();
      const auto want = torch::tensor(expected.at(name).at(step).get<std::vector<double>>(), torch::kFloat32);
      worst = std::max(worst, (p.detach().flatten() - want).abs().max().item<double>());
    }
    // The parameters moved by about 0.5 to 1 in 8 steps; float32 rounding stays far below 1e-5.
    EXPECT_LT(worst, 1e-5) << name << " (" << ctor << ")";
    std::cout << "[ parity   ] " << name << ": max |ptx - torch| over 8 steps = " << worst << "\n";
  }
}

TEST(RAdam, FirstStepsAreBiasCorrectedMomentum) {
  // rho_inf = 2 / (1 - 0.999) - 1 = 1999; rho_1 = 1999 - 2 * 0.999 / 0.001 = 1 <= 5: the first
  // step is p -= lr * m / (1 - b1) = lr * g (m = 0.1 g). With g = 2 (p^2 at p = 1): 1 - 0.1 * 2.
  auto p = torch::ones({1}).requires_grad_(true);
  RAdam opt(std::vector<torch::Tensor>{p}, RAdamOptions(0.1));
  p.pow(2).sum().backward();
  opt.step();
  EXPECT_NEAR(p.item<double>(), 0.8, 1e-7);
}

TEST(Optimizers, ParameterGroupsGiveTheEncoderItsOwnRate) {
  models::ModelSpec spec;
  spec.encoder = "resnet18";
  const auto model = models::build_model(spec);
  const auto groups = parameter_groups(*model, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "encoder");
  EXPECT_EQ(groups[1].name, "decoder");
  EXPECT_DOUBLE_EQ(groups[0].lr_factor, 0.1);
  EXPECT_EQ(groups[0].names.front(), "encoder.conv1.weight");
  EXPECT_EQ(groups[1].names.back(), "segmentation_head.0.bias");
  EXPECT_EQ(groups[0].params.size() + groups[1].params.size(), model->parameters().size());
  for (const auto& n : groups[1].names) EXPECT_NE(n.rfind("encoder.", 0), 0u) << n;

  // make_optimizer: the same groups, the encoder at a tenth of the rate.
  const auto config = json{{"type", "adamw"}, {"lr", 1e-3}, {"encoder_lr_factor", 0.1}}.get<OptimizerConfig>();
  const auto opt = make_optimizer(config, *model);
  ASSERT_EQ(opt->groups().size(), 2u);
  EXPECT_NEAR(opt->group_lrs()[0], 1e-4, 1e-18);
  EXPECT_NEAR(opt->group_lrs()[1], 1e-3, 1e-18);

  // A model without an encoder: one group.
  torch::nn::Linear linear(2, 1);
  const auto one = parameter_groups(*linear, 0.1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "decoder");
}

TEST(Optimizers, SetLrKeepsTheGroupsRatios) {
  // Plain SGD (momentum 0): each parameter moves by its group's lr x gradient.
  auto enc = torch::zeros({2}).requires_grad_(true), dec = torch::zeros({2}).requires_grad_(true);
  OptimizerConfig config;
  config.type = "sgd";
  config.momentum = 0;
  config.lr = 1.0;
  Optimizer opt(config, {ParamGroup{"encoder", 0.1, {"e"}, {enc}}, ParamGroup{"decoder", 1.0, {"d"}, {dec}}});
  EXPECT_EQ(opt.group_lrs(), (std::vector<double>{0.1, 1.0}));
  opt.set_lr(0.5);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5);
  EXPECT_EQ(opt.group_lrs(), (std::vector<double>{0.05, 0.5}));
  (enc.sum() + 2 * dec.sum()).backward();  // gradients 1 and 2
  opt.step();
  EXPECT_TRUE(torch::allclose(enc, torch::full({2}, -0.05)));
  EXPECT_TRUE(torch::allclose(dec, torch::full({2}, -1.0)));
}

namespace {

// Two groups (the encoder at a tenth of the rate), a frozen parameter that never gets a
// gradient, the rate changed after the first step (as a schedule would).
struct Training {
  torch::Tensor enc, dec, frozen;
  std::unique_ptr<Optimizer> opt;
  int steps_done = 0;

  Training(const json& config, torch::Tensor e, torch::Tensor d) : enc(std::move(e)), dec(std::move(d)) {
    frozen = torch::ones({2});  // requires no gradient
    opt = std::make_unique<Optimizer>(config.get<OptimizerConfig>(),
                                      std::vector<ParamGroup>{{"encoder", 0.1, {"enc"}, {enc}},
                                                              {"decoder", 1.0, {"dec", "frozen"}, {dec, frozen}}});
  }
  void steps(int n) {
    for (int i = 0; i < n; ++i, ++steps_done) {
      if (steps_done == 1) opt->set_lr(opt->lr() * 0.5);
      opt->zero_grad();
      (objective(enc) + objective(dec)).backward();
      opt->step();
    }
  }
};

torch::Tensor fresh(const torch::Tensor& t) { return t.detach().clone().requires_grad_(true); }

}  // namespace

TEST(Optimizers, RestoredStateContinuesIdentically) {
  for (const json& config : {json{{"type", "adam"}, {"lr", 0.1}, {"weight_decay", 0.01}},
                            json{{"type", "adam"}, {"lr", 0.1}, {"amsgrad", true}},
                            json{{"type", "adamw"}, {"lr", 0.1}, {"weight_decay", 0.1}},
                            json{{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}},
                            json{{"type", "radam"}, {"lr", 0.1}, {"betas", {0.9, 0.99}}}}) {
    SCOPED_TRACE(config.dump());
    Training straight(config, fresh(p0()), fresh(p0() * 2));
    straight.steps(6);

    Training first(config, fresh(p0()), fresh(p0() * 2));
    first.steps(3);
    auto state = first.opt->state();
    // Through files, as a checkpoint would carry it: the tensors as a torch.save dict, the JSON as text.
    test::TempDir dir;
    models::write_tensor_dict(dir / "optimizer.pt", state.tensors);
    state.tensors = models::read_tensor_dict(dir / "optimizer.pt");
    state.meta = json::parse(state.meta.dump());
    EXPECT_EQ(state.meta.at("steps").count("frozen"), 0u);

    // A fresh optimiser over the checkpointed weights, given the saved state.
    Training resumed(config, fresh(first.enc), fresh(first.dec));
    resumed.steps_done = 3;
    resumed.opt->load_state(state);
    EXPECT_DOUBLE_EQ(resumed.opt->lr(), first.opt->lr());
    EXPECT_EQ(resumed.opt->group_lrs(), first.opt->group_lrs());
    resumed.steps(3);
    EXPECT_TRUE(torch::equal(resumed.enc, straight.enc)) << resumed.enc << straight.enc;
    EXPECT_TRUE(torch::equal(resumed.dec, straight.dec));

    // Without the state (moments reset) the run differs: the comparison above can fail.
    Training reset(config, fresh(first.enc), fresh(first.dec));
    reset.steps_done = 3;
    reset.opt->set_lr(first.opt->lr());
    reset.steps(3);
    EXPECT_FALSE(torch::equal(reset.dec, straight.dec));
  }
}

TEST(Optimizers, ZeroGradDropsGradientsSoFrozenParametersStay) {
  auto p = torch::ones({2}).requires_grad_(true);
  auto opt = single(json{{"type", "adam"}, {"lr", 0.1}}, p);
  p.sum().backward();
  opt.step();
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
  // Frozen now: Adam's accumulated moments must not move it any more.
  p.requires_grad_(false);
  const auto before = p.clone();
  opt.step();
  EXPECT_TRUE(torch::equal(p, before));
}

TEST(Optimizers, StateNamesTheMomentsAndStepCounts) {
  Training run(json{{"type", "adam"}, {"lr", 0.1}}, fresh(p0()), fresh(p0()));
  run.steps(2);
  const auto state = run.opt->state();
  EXPECT_EQ(state.meta.at("type"), "adam");
  EXPECT_EQ(state.meta.at("steps").at("enc"), 2);
  EXPECT_EQ(state.tensors.size(), 4u);  // enc and dec: exp_avg, exp_avg_sq
  ASSERT_TRUE(state.tensors.count("dec.exp_avg_sq"));
  EXPECT_EQ(state.tensors.at("dec.exp_avg_sq").sizes(), p0().sizes());
  EXPECT_EQ(state.meta.at("groups").at(0).at("lr_factor"), 0.1);
}

TEST(Optimizers, LoadStateRejectsAnotherOptimiser) {
  Training adam(json{{"type", "adam"}}, fresh(p0()), fresh(p0()));
  adam.steps(1);
  Training sgd(json{{"type", "sgd"}}, fresh(p0()), fresh(p0()));
  auto msg = test::error_of([&] { sgd.opt->load_state(adam.opt->state()); });
  EXPECT_NE(msg.find("'adam'"), std::string::npos) << msg;
  auto state = adam.opt->state();
  state.tensors.at("enc.exp_avg") = torch::zeros({3});
  Training other(json{{"type", "adam"}}, fresh(p0()), fresh(p0()));
  msg = test::error_of([&] { other.opt->load_state(state); });
  EXPECT_NE(msg.find("enc.exp_avg"), std::string::npos) << msg;
}

TEST(Optimizers, ClipGradNormScalesToTheLimit) {
  auto a = torch::zeros({1}).requires_grad_(true), b = torch::zeros({1}).requires_grad_(true),
       unused = torch::zeros({1}).requires_grad_(true);
  (3 * a + 4 * b).sum().backward();  // gradients 3 and 4: norm 5
  EXPECT_NEAR(clip_grad_norm({a, b, unused}, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(a.grad().item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b.grad().item<double>(), 0.8, 1e-6);
  clip_grad_value({a, b}, 0.7);
  EXPECT_NEAR(b.grad().item<double>(), 0.7, 1e-6);
}

TEST(Optimizers, ConfigRoundTripsAndRejectsUnknownKeys) {
  OptimizerConfig c;
  c.type = "adamw";
  c.encoder_lr_factor = 0.1;
  c.beta2 = 0.99;
  const json j = c;
  const auto back = j.get<OptimizerConfig>();
  EXPECT_EQ(back.type, "adamw");
  EXPECT_DOUBLE_EQ(back.encoder_lr_factor, 0.1);
  EXPECT_DOUBLE_EQ(back.beta2, 0.99);
  auto msg = test::error_of([] { json{{"type", "adam"}, {"lr_factor", 0.1}}.get<OptimizerConfig>(); });
  EXPECT_NE(msg.find("'lr_factor'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder_lr_factor"), std::string::npos) << msg;
  msg = test::error_of([] { json{{"type", "adamax"}}.get<OptimizerConfig>(); });
  EXPECT_NE(msg.find("adam, adamw, sgd, radam"), std::string::npos) << msg;
}

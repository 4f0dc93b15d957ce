// Learning-rate schedules (src/ptx/train/schedulers) against torch.optim.lr_scheduler's values
// (Debian's python3-torch at test time), the Keras warm-up schedule by hand, cycle ends for
// snapshots, plateau state that resumes, and the rate applied to every group keeping ratios.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/train/optimizers.h"
#include "ptx/train/schedulers.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using namespace ptx::train;
using nlohmann::json;

namespace {

const std::vector<double> kMetrics = {0.5, 0.6, 0.6, 0.59, 0.61, 0.605, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1};

// Each list: the lr in force for successive epochs (or steps).
const char* kScript = R"PY(
import sys, json, warnings, torch
from torch.optim import lr_scheduler as S
warnings.filterwarnings("ignore")
OUT = sys.argv[1]
METRICS = [0.5, 0.6, 0.6, 0.59, 0.61, 0.605, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1]
def opt(lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
def lr(o):
    return o.param_groups[0]["lr"]
res = {}
def epochs(name, lr0, make, n):
    o = opt(lr0); s = make(o); out = []
    for _ in range(n):
        out.append(lr(o)); o.step(); s.step()
    res[name] = out
def plateau(name, lr0, metrics, **kw):
    o = opt(lr0); s = S.ReduceLROnPlateau(o, **kw); out = []
    for m in metrics:
        out.append(lr(o)); s.step(m)
    out.append(lr(o))
    res[name] = out
plateau("plateau_max", 1.0, METRICS, mode="max", factor=0.5, patience=1, cooldown=1, min_lr=0.1, threshold=0.01)
plateau("plateau_min", 1.0, METRICS, mode="min", factor=0.1, patience=0, threshold=0.05, threshold_mode="abs")
epochs("cosine", 0.1, lambda o: S.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 12)
epochs("restarts_2_2", 0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.001), 16)
epochs("restarts_3_1", 0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3), 10)
o = opt(0.1); s = S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2); out = []
for e in range(7):
    for i in range(4):
        s.step(e + i / 4); out.append(lr(o))
res["restarts_per_step"] = out
for name, kw in [("one_cycle_cos", {}), ("one_cycle_linear", {"anneal_strategy": "linear"}),
                 ("one_cycle_three", {"three_phase": True, "pct_start": 0.25})]:
    o = opt(0.1); s = S.OneCycleLR(o, max_lr=0.01, epochs=3, steps_per_epoch=5, **kw); out = []; mom = []
    for _ in range(15):
        out.append(lr(o)); mom.append(o.param_groups[0]["momentum"]); o.step(); s.step()
    res[name] = out
    res[name + "_momentum"] = mom
from torch.optim.swa_utils import SWALR
epochs("swa_cos", 0.1, lambda o: SWALR(o, swa_lr=0.01, anneal_epochs=4), 8)
epochs("swa_linear", 0.1, lambda o: SWALR(o, swa_lr=0.01, anneal_epochs=3, anneal_strategy="linear"), 6)
epochs("swa_none", 0.1, lambda o: SWALR(o, swa_lr=0.01, anneal_epochs=0), 3)
json.dump(res, open(OUT + "/schedules.json", "w"))
)PY";

class ScheduleParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { reference_ = test::run_python_reference(kScript).release(); }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
  }
  void SetUp() override {
    if (!reference_->skip_reason.empty()) GTEST_SKIP() << reference_->skip_reason;
    ASSERT_TRUE(reference_->failure.empty()) << reference_->failure;
    expected_ = json::parse(std::ifstream(reference_->dir / "schedules.json"));
  }
  std::vector<double> expected(const std::string& name) const { return expected_.at(name).get<std::vector<double>>(); }
  static test::PythonReference* reference_;
  json expected_;
};
test::PythonReference* ScheduleParity::reference_ = nullptr;

void expect_same(const std::vector<double>& got, const std::vector<double>& want, const std::string& name) {
  ASSERT_EQ(got.size(), want.size()) << name;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 + 1e-9 * want[i]) << name << " at " << i;
}

// lr(e) for e in 0..n-1.
std::vector<double> by_epoch(const Scheduler& s, int n) {
  std::vector<double> out;
  for (int e = 0; e < n; ++e) out.push_back(s.lr(e));
  return out;
}

std::vector<double> plateau_run(Scheduler& s) {
  std::vector<double> out;
  for (size_t e = 0; e < kMetrics.size(); ++e) {
    out.push_back(s.lr(e));
    s.step(e, kMetrics[e]);
  }
  out.push_back(s.lr(kMetrics.size()));
  return out;
}

}  // namespace

TEST_F(ScheduleParity, ReduceOnPlateau) {
  auto max = make_scheduler(
      json{{"type", "plateau"}, {"mode", "max"}, {"factor", 0.5}, {"patience", 1}, {"cooldown", 1}, {"min_lr", 0.1},
           {"threshold", 0.01}},
      1.0);
  expect_same(plateau_run(*max), expected("plateau_max"), "plateau_max");
  auto min = make_scheduler(
      json{{"type", "plateau"}, {"mode", "min"}, {"patience", 0}, {"threshold", 0.05}, {"threshold_mode", "abs"}}, 1.0);
  expect_same(plateau_run(*min), expected("plateau_min"), "plateau_min");
  // The runs are not trivial: the rate fell.
  EXPECT_LT(expected("plateau_max").back(), 1.0);
}

TEST_F(ScheduleParity, CosineAnnealing) {
  expect_same(by_epoch(*make_scheduler(json{{"type", "cosine"}, {"t_max", 4}, {"eta_min", 0.01}}, 0.1), 12),
              expected("cosine"), "cosine");
}

TEST_F(ScheduleParity, CosineWarmRestarts) {
  const auto a = make_scheduler(json{{"type", "cosine_restarts"}, {"t_0", 2}, {"t_mult", 2}, {"eta_min", 0.001}}, 0.1);
  expect_same(by_epoch(*a, 16), expected("restarts_2_2"), "restarts_2_2");
  expect_same(by_epoch(*make_scheduler(json{{"type", "cosine_restarts"}, {"t_0", 3}}, 0.1), 10),
              expected("restarts_3_1"), "restarts_3_1");
  const auto per_step =
      make_scheduler(json{{"type", "cosine_restarts"}, {"t_0", 2}, {"t_mult", 2}, {"per_step", true}}, 0.1);
  std::vector<double> got;
  for (int e = 0; e < 7; ++e)
    for (int s = 0; s < 4; ++s) got.push_back(per_step->lr(e, s, 4));
  expect_same(got, expected("restarts_per_step"), "restarts_per_step");
}

TEST_F(ScheduleParity, OneCycle) {
  for (const auto& [name, extra] :
       std::vector<std::pair<std::string, json>>{{"one_cycle_cos", json::object()},
                                                 {"one_cycle_linear", {{"anneal", "linear"}}},
                                                 {"one_cycle_three", {{"three_phase", true}, {"pct_start", 0.25}}}}) {
    json config{{"type", "one_cycle"}, {"max_lr", 0.01}, {"epochs", 3}};
    config.update(extra);
    const auto s = make_scheduler(config, 0.1);
    std::vector<double> got, momenta;
    for (int e = 0; e < 3; ++e)
      for (int step = 0; step < 5; ++step) {
        got.push_back(s->lr(e, step, 5));
        momenta.push_back(s->momentum(e, step, 5).value());
      }
    expect_same(got, expected(name), name);
    expect_same(momenta, expected(name + "_momentum"), name + "_momentum");
  }
  // apply() cycles the Adam family's beta1; cycle_momentum false leaves it.
  auto p = torch::zeros({1}).requires_grad_(true);
  OptimizerConfig config;
  Optimizer adam(config, {ParamGroup{"all", 1.0, {"p"}, {p}}});
  const auto s = make_scheduler(json{{"type", "one_cycle"}, {"max_lr", 0.01}, {"epochs", 3}}, 0.1);
  s->apply(adam, 1, 2, 5);
  EXPECT_DOUBLE_EQ(adam.group_momenta()[0], *s->momentum(1, 2, 5));
  EXPECT_NEAR(adam.group_momenta()[0], expected("one_cycle_cos_momentum")[7], 1e-12);
  const auto fixed = make_scheduler(json{{"type", "one_cycle"}, {"epochs", 3}, {"cycle_momentum", false}}, 0.1);
  EXPECT_FALSE(fixed->momentum(0).has_value());
}

TEST_F(ScheduleParity, SwaLearningRate) {
  const auto cos = make_scheduler(json{{"type", "swa"}, {"swa_lr", 0.01}, {"anneal_epochs", 4}}, 0.1);
  expect_same(by_epoch(*cos, 8), expected("swa_cos"), "swa_cos");
  const auto linear =
      make_scheduler(json{{"type", "swa"}, {"swa_lr", 0.01}, {"anneal_epochs", 3}, {"anneal", "linear"}}, 0.1);
  expect_same(by_epoch(*linear, 6), expected("swa_linear"), "swa_linear");
  const auto none = make_scheduler(json{{"type", "swa"}, {"swa_lr", 0.01}, {"anneal_epochs", 0}}, 0.1);
  expect_same(by_epoch(*none, 3), expected("swa_none"), "swa_none");
}

TEST(Schedules, CycleEndsMarkSnapshots) {
  // t_0 2, t_mult 2: cycles are epochs 0-1, 2-5, 6-13.
  const CosineRestartsScheduler s(0.1, 2, 2);
  std::vector<int64_t> ends;
  for (int64_t e = 0; e < 14; ++e)
    if (s.cycle_ends(e)) ends.push_back(e);
  EXPECT_EQ(ends, (std::vector<int64_t>{1, 5, 13}));
  EXPECT_DOUBLE_EQ(s.lr(6), 0.1);  // the restart
  EXPECT_FALSE(CosineScheduler(0.1, 4).cycle_ends(3));
}

TEST(Schedules, WarmupSustainExponentialDecay) {
  // lr_start 1e-5, lr_max 1e-3, lr_min 1e-6, 2 warm-up epochs, 1 sustain epoch, decay 0.5:
  //   e 0: 1e-5; e 1: (1e-3 - 1e-5) / 2 * 1 + 1e-5 = 5.05e-4; e 2: 1e-3 (sustain);
  //   e 3: (1e-3 - 1e-6) * 0.5^0 + 1e-6 = 1e-3; e 4: 0.999e-3 * 0.5 + 1e-6 = 5.005e-4;
  //   e 5: 0.999e-3 * 0.25 + 1e-6 = 2.5075e-4.
  const auto s = make_scheduler(json{{"type", "warmup_exp"}, {"lr_start", 1e-5}, {"lr_max", 1e-3}, {"lr_min", 1e-6},
                                     {"warmup_epochs", 2}, {"sustain_epochs", 1}, {"decay", 0.5}},
                                0.1);
  const std::vector<double> want{1e-5, 5.05e-4, 1e-3, 1e-3, 5.005e-4, 2.5075e-4};
  expect_same(by_epoch(*s, 6), want, "warmup_exp");
  // per_step: halfway through epoch 0 of the warm-up, (1e-3 - 1e-5) / 2 * 0.5 + 1e-5.
  const auto smooth = make_scheduler(json{{"type", "warmup_exp"}, {"lr_start", 1e-5}, {"lr_max", 1e-3},
                                          {"warmup_epochs", 2}, {"per_step", true}},
                                     0.1);
  EXPECT_NEAR(smooth->lr(0, 2, 4), 0.99e-3 / 4 + 1e-5, 1e-15);
}

TEST(Schedules, PlateauStateResumes) {
  const json config{{"type", "plateau"}, {"factor", 0.5}, {"patience", 1}, {"cooldown", 1}};
  auto straight = make_scheduler(config, 1.0);
  auto first = make_scheduler(config, 1.0);
  for (int e = 0; e < 5; ++e) {
    straight->step(e, kMetrics[e]);
    first->step(e, kMetrics[e]);
  }
  auto resumed = make_scheduler(config, 1.0);
  resumed->load_state(json::parse(first->state().dump()));
  for (size_t e = 5; e < kMetrics.size(); ++e) {
    straight->step(e, kMetrics[e]);
    resumed->step(e, kMetrics[e]);
    EXPECT_EQ(resumed->lr(e), straight->lr(e)) << e;
  }
  EXPECT_LT(straight->lr(0), 1.0);
  // A fresh one without the state differs.
  auto reset = make_scheduler(config, 1.0);
  for (size_t e = 5; e < kMetrics.size(); ++e) reset->step(e, kMetrics[e]);
  EXPECT_NE(reset->lr(0), straight->lr(0));
  // Another type's state is refused.
  const auto msg = test::error_of([&] { resumed->load_state(ConstantScheduler(1.0).state()); });
  EXPECT_NE(msg.find("constant"), std::string::npos) << msg;
  EXPECT_NE(test::error_of([&] { resumed->step(20, std::nullopt); }), "");
}

TEST(Schedules, ApplySetsEveryGroupKeepingRatios) {
  auto enc = torch::zeros({1}).requires_grad_(true), dec = torch::zeros({1}).requires_grad_(true);
  OptimizerConfig config;
  config.lr = 1e-3;
  Optimizer opt(config, {ParamGroup{"encoder", 0.1, {"e"}, {enc}}, ParamGroup{"decoder", 1.0, {"d"}, {dec}}});
  const CosineScheduler s(1e-3, 4);
  s.apply(opt, 2);  // halfway: 1e-3 * (1 + cos(pi / 2)) / 2 = 5e-4
  EXPECT_NEAR(opt.lr(), 5e-4, 1e-15);
  const auto lrs = opt.group_lrs();
  EXPECT_NEAR(lrs[0], 5e-5, 1e-15);
  EXPECT_NEAR(lrs[1], 5e-4, 1e-15);
}

TEST(Schedules, ConfigErrors) {
  auto msg = test::error_of([] { make_scheduler(json{{"type", "cosin"}}, 0.1); });
  EXPECT_NE(msg.find("'cosin'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("constant, plateau, cosine, cosine_restarts, one_cycle, warmup_exp, swa, sequence"),
            std::string::npos)
      << msg;
  msg = test::error_of([] { make_scheduler(json{{"type", "cosine"}, {"T_max", 4}}, 0.1); });
  EXPECT_NE(msg.find("'T_max'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t_max"), std::string::npos) << msg;
  msg = test::error_of([] { make_scheduler(json{{"type", "cosine"}}, 0.1); });
  EXPECT_NE(msg.find("t_max"), std::string::npos) << msg;
  msg = test::error_of([] { make_scheduler(json{{"type", "plateau"}, {"mode", "maximum"}}, 0.1); });
  EXPECT_NE(msg.find("min, max"), std::string::npos) << msg;
  msg = test::error_of([] { make_scheduler(json{{"type", "one_cycle"}, {"epochs", 1}}, 0.1)->lr(1, 0, 5); });
  EXPECT_NE(msg.find("past"), std::string::npos) << msg;
}

TEST(Schedules, SequenceChainsParts) {
  // Plateau at the optimiser's 1e-3 for 3 epochs, then cosine from 1e-5 with t_max 2
  // (1e-5, 5e-6, 0, 5e-6, 1e-5, ...), the last part running on past its 4 epochs.
  const json config = json::parse(R"({"type": "sequence", "parts": [
      {"epochs": 3, "schedule": {"type": "plateau", "factor": 0.5, "patience": 0}},
      {"epochs": 4, "lr": 1e-5, "schedule": {"type": "cosine", "t_max": 2}}]})");
  auto s = make_scheduler(config, 1e-3);
  EXPECT_DOUBLE_EQ(s->lr(0), 1e-3);
  s->step(0, 0.5);
  s->step(1, 0.4);  // worse, patience 0: halved
  EXPECT_DOUBLE_EQ(s->lr(2), 5e-4);
  auto resumed = make_scheduler(config, 1e-3);
  resumed->load_state(json::parse(s->state().dump()));
  EXPECT_DOUBLE_EQ(resumed->lr(2), 5e-4);
  const std::vector<double> want{1e-5, 5e-6, 0.0, 5e-6, 1e-5, 5e-6};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(s->lr(3 + i), want[i], 1e-18) << i;
  // The end of a part is a cycle end; the last part's end is not (it runs on).
  EXPECT_TRUE(s->cycle_ends(2));
  EXPECT_FALSE(s->cycle_ends(3));
  EXPECT_FALSE(s->cycle_ends(6));
  const auto msg = test::error_of([] {
    make_scheduler(json::parse(R"({"type": "sequence", "parts": [{"epochs": 2, "schedule": {"type": "constant"},
                                                                  "lr_max": 1}]})"), 1e-3);
  });
  EXPECT_NE(msg.find("'lr_max'"), std::string::npos) << msg;
}

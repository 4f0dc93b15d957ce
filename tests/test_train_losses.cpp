// Losses (src/ptx/train/losses): each against a hand-computed value on a 2x1x2x2 batch, gradients
// that flow, and config errors that name the key and list the valid ones.
//
// The batch uses logits 0 and +-ln 3, so the probabilities are 1/2, 3/4 and 1/4:
//   image 0: logits [0, ln3, -ln3, ln3]   p [.5, .75, .25, .75]   target [0, 1, 0, 1]
//   image 1: logits [ln3, 0, -ln3, -ln3]  p [.75, .5, .25, .25]   target [0, 0, 0, 1]
// The probability of the true class p_t and -ln p_t per pixel:
//   image 0: p_t [.5, .75, .75, .75]  -> ln2, ln(4/3), ln(4/3), ln(4/3)
//   image 1: p_t [.25, .5, .75, .25]  -> ln4, ln2,     ln(4/3), ln4
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ptx/core/error.h"
#include "ptx/train/losses.h"
#include "python_reference.h"
#include "test_support.h"

using namespace ptx;
using namespace ptx::train;
using nlohmann::json;

namespace {

const double ln2 = std::log(2.0), ln3 = std::log(3.0), ln4 = std::log(4.0), ln43 = std::log(4.0 / 3.0);

torch::Tensor logits() {
  return torch::tensor({0.0, ln3, -ln3, ln3, ln3, 0.0, -ln3, -ln3}, torch::kFloat32).reshape({2, 1, 2, 2});
}
torch::Tensor target() { return torch::tensor({0, 1, 0, 1, 0, 0, 0, 1}, torch::kFloat32).reshape({2, 1, 2, 2}); }

double value(const Loss& loss) { return loss(logits(), target()).item<double>(); }

// backward() works and gives finite, not all-zero gradients of the logits' shape.
void expect_gradients(const Loss& loss) {
  auto x = logits().requires_grad_(true);
  auto l = loss(x, target());
  ASSERT_EQ(l.dim(), 0) << loss.type();
  l.backward();
  ASSERT_TRUE(x.grad().defined()) << loss.type();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>()) << loss.type();
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0) << loss.type();
}

constexpr double kTol = 1e-6;

}  // namespace

TEST(Losses, BceMatchesHandComputedValue) {
  // Mean of -ln p_t: (2 ln2 + 4 ln(4/3) + 2 ln4) / 8.
  EXPECT_NEAR(value(BceLoss()), (2 * ln2 + 4 * ln43 + 2 * ln4) / 8, kTol);
  // pos_weight 2 doubles the positives' terms (ln(4/3), ln(4/3), ln4): + (2 ln(4/3) + ln4) / 8.
  EXPECT_NEAR(value(BceLoss({2.0, 0.0})), (2 * ln2 + 6 * ln43 + 3 * ln4) / 8, kTol);
  // Label smoothing 0.2: targets 0.9 / 0.1. Per pixel -(y' ln p + (1 - y') ln(1 - p)):
  //   p .5: ln2 (twice); p .75 with y' .9 and p .25 with y' .1: .9 ln(4/3) + .1 ln4 (four times);
  //   p .75 with y' .1 and p .25 with y' .9: .1 ln(4/3) + .9 ln4 (twice).
  EXPECT_NEAR(value(BceLoss({1.0, 0.2})), (2 * ln2 + 4 * (.9 * ln43 + .1 * ln4) + 2 * (.1 * ln43 + .9 * ln4)) / 8,
              kTol);
  expect_gradients(BceLoss({2.0, 0.1}));
}

TEST(Losses, DiceIsDiceNotJaccard) {
  // Per image, smooth 1: image 0: |X n Y| = .75 + .75 = 1.5, |X| = 2.25, |Y| = 2:
  //   dice (2 * 1.5 + 1) / (4.25 + 1) = 16/21; image 1: |X n Y| = .25, |X| = 1.75, |Y| = 1:
  //   dice (0.5 + 1) / (2.75 + 1) = 2/5. Loss 1 - (16/21 + 2/5) / 2 = 44/105.
  // (Jaccard, (I + 1) / (|X| + |Y| - I + 1), would give 1 - (2.5/3.75 + 1.25/3.5) / 2 = 0.4881.)
  EXPECT_NEAR(value(DiceLoss()), 44.0 / 105.0, kTol);
  // Whole batch: I = 1.75, |X| = 4, |Y| = 3: 1 - (3.5 + 1) / (7 + 1) = 0.4375.
  EXPECT_NEAR(value(DiceLoss({1.0, false})), 0.4375, kTol);
  // No smoothing: 1 - (3 / 4.25 + 0.5 / 2.75) / 2 = 1 - (12/17 + 2/11) / 2.
  EXPECT_NEAR(value(DiceLoss({0.0, true})), 1 - (12.0 / 17 + 2.0 / 11) / 2, kTol);
  expect_gradients(DiceLoss());
}

TEST(Losses, FocalMatchesHandComputedValue) {
  // gamma 2: (1 - p_t)^2 * -ln p_t per pixel:
  //   image 0: .25 ln2, .0625 ln(4/3) (three times); image 1: .5625 ln4, .25 ln2, .0625 ln(4/3), .5625 ln4.
  const double pos = 2 * .0625 * ln43 + .5625 * ln4;                   // the 3 positives
  const double neg = .25 * ln2 + .0625 * ln43 + .5625 * ln4 + .25 * ln2 + .0625 * ln43;  // the 5 negatives
  EXPECT_NEAR(value(FocalLoss()), (pos + neg) / 8, kTol);
  // alpha .25: positives x .25, negatives x .75.
  EXPECT_NEAR(value(FocalLoss({2.0, 0.25})), (.25 * pos + .75 * neg) / 8, kTol);
  // gamma 0 and no alpha is BCE.
  EXPECT_NEAR(value(FocalLoss({0.0, std::nullopt})), value(BceLoss()), kTol);
  expect_gradients(FocalLoss({2.0, 0.25}));
}

TEST(Losses, LovaszHingeMatchesHandComputedValue) {
  // Hinge errors 1 - x (2y - 1):
  //   image 0: [1, 1 - ln3, 1 - ln3, 1 - ln3]: only the first (a negative) is positive. Sorted
  //     first: 2 positives, intersection 2, union 3, J = 1 - 2/3: loss 1 * 1/3.
  //   image 1: [1 + ln3, 1, 1 - ln3, 1 + ln3] with labels [0, 0, 0, 1]; sorted (tie first) the
  //     labels 0, 1, 0, 0: J = 1 - [1/2, 0, 0, 0] -> gradient [1/2, 1/2, 0, 0];
  //     loss (1 + ln3)/2 + (1 + ln3)/2 = 1 + ln3 (the other tie order gives [1, 0, 0, 0]: same).
  EXPECT_NEAR(value(LovaszHingeLoss()), (1.0 / 3 + 1 + ln3) / 2, kTol);
  // Whole batch: errors sorted 1+ln3, 1+ln3, 1, 1 (labels 0, 1, 0, 0), 3 positives:
  //   J = 1 - [3/4, 2/4, 2/5, 2/6] -> gradient [1/4, 1/4, 1/10, 1/15]:
  //   loss (1 + ln3) / 2 + 1/10 + 1/15 = (1 + ln3) / 2 + 1/6.
  EXPECT_NEAR(value(LovaszHingeLoss(false)), (1 + ln3) / 2 + 1.0 / 6, kTol);
  expect_gradients(LovaszHingeLoss());
}

TEST(Losses, LovaszHingeOfABinaryPredictionIsTwiceTheJaccardLoss) {
  // Logits +-1 (a predicted mask M) give hinge errors 2 on the mistakes and 0 elsewhere; the
  // Lovasz extension equals the set function at such vertices, so the loss is
  // 2 (1 - |Y n M| / |Y u M|): an independent check of the sort and the gradient.
  torch::manual_seed(5);
  for (int trial = 0; trial < 5; ++trial) {
    const auto y = (torch::rand({1, 1, 6, 6}) > 0.5).to(torch::kFloat32);
    const auto m = (torch::rand({1, 1, 6, 6}) > 0.5).to(torch::kFloat32);
    ASSERT_GT(y.sum().item<double>(), 0);
    const double iou = (y * m).sum().item<double>() / ((y + m) > 0).sum().item<double>();
    EXPECT_NEAR(LovaszHingeLoss()(2 * m - 1, y).item<double>(), 2 * (1 - iou), 1e-5) << trial;
  }
}

TEST(Losses, LovaszGradientOfSortedLabels) {
  // Labels 1, 0, 1 (2 positives): J_i = 1 - (2 - cumsum) / (2 + cumsum(1 - y)):
  //   1 - 1/2, 1 - 1/3, 1 - 0/3 -> [1/2, 2/3, 1]; differences [1/2, 1/6, 1/3].
  const auto g = lovasz_grad(torch::tensor({1.0f, 0.0f, 1.0f}));
  EXPECT_TRUE(torch::allclose(g, torch::tensor({0.5f, 1.0f / 6, 1.0f / 3})));
}

TEST(Losses, WeightedBceBalancesTheClasses) {
  // P = 3 positive pixels, N = 5 negative: weights 8/3 and 8/5; mean over 8 pixels:
  //   (8/3 * (2 ln(4/3) + ln4) + 8/5 * (2 ln2 + 2 ln(4/3) + ln4)) / 8.
  const double pos = 2 * ln43 + ln4, neg = 2 * ln2 + 2 * ln43 + ln4;
  EXPECT_NEAR(value(WeightedBceLoss()), pos / 3 + neg / 5, kTol);
  // An all-negative batch: weight (P+N)/N = 1 for every pixel, so it is the plain BCE.
  const auto zeros = torch::zeros({2, 1, 2, 2});
  EXPECT_NEAR(WeightedBceLoss()(logits(), zeros).item<double>(), BceLoss()(logits(), zeros).item<double>(), kTol);
  expect_gradients(WeightedBceLoss());
}

TEST(Losses, ComboIsTheWeightedSumAndReportsItsParts) {
  const auto combo = make_loss(json::parse(R"({"type": "combo", "weights": {"bce": 3, "dice": 1, "focal": 4}})"));
  const double bce = value(BceLoss()), dice = value(DiceLoss()), focal = value(FocalLoss());
  const auto v = combo->evaluate(logits(), target());
  EXPECT_NEAR(v.loss.item<double>(), 3 * bce + dice + 4 * focal, kTol);
  ASSERT_EQ(v.components.size(), 3u);
  EXPECT_EQ(v.components[0].first, "bce");
  EXPECT_NEAR(v.components[0].second.item<double>(), bce, kTol);
  EXPECT_EQ(v.components[1].first, "dice");
  EXPECT_NEAR(v.components[1].second.item<double>(), dice, kTol);
  EXPECT_EQ(v.components[2].first, "focal");
  EXPECT_NEAR(v.components[2].second.item<double>(), focal, kTol);
  EXPECT_FALSE(v.components[0].second.requires_grad());
  expect_gradients(*combo);

  // The list form, with options and names.
  const auto listed = make_loss(json::parse(R"({"type": "combo", "losses": [
      {"type": "focal", "weight": 2, "gamma": 0, "name": "f0"},
      {"type": "focal", "weight": 0.5, "alpha": 0.25}]})"));
  const auto lv = listed->evaluate(logits(), target());
  EXPECT_NEAR(lv.loss.item<double>(), 2 * bce + 0.5 * value(FocalLoss({2.0, 0.25})), kTol);
  EXPECT_EQ(lv.components[0].first, "f0");
  EXPECT_EQ(lv.components[1].first, "focal");
}

TEST(Losses, SingleLossesReportThemselves) {
  const auto loss = make_loss(json::parse(R"({"type": "dice", "per_image": false})"));
  const auto v = loss->evaluate(logits(), target());
  ASSERT_EQ(v.components.size(), 1u);
  EXPECT_EQ(v.components[0].first, "dice");
  EXPECT_NEAR(v.loss.item<double>(), 0.4375, kTol);
}

TEST(Losses, WorkOnClassifierLabelsAndKeepDtype) {
  // N x C labels: logits 0 and ln3 with labels 1, 0: -ln p_t = ln2, ln4: mean 1.5 ln2.
  const auto x = torch::tensor({{0.0, ln3}}, torch::kFloat64), y = torch::tensor({{1, 0}}, torch::kInt64);
  const auto l = BceLoss()(x, y);
  EXPECT_EQ(l.scalar_type(), torch::kFloat64);
  EXPECT_NEAR(l.item<double>(), 1.5 * ln2, 1e-12);
}

TEST(Losses, ConfigErrorsNameTheKeyAndTheChoices) {
  auto msg = test::error_of([] { make_loss(json{{"type", "dcie"}}); });
  EXPECT_NE(msg.find("'dcie'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bce, dice, focal, lovasz, weighted_bce, combo"), std::string::npos) << msg;
  msg = test::error_of([] { make_loss(json{{"type", "focal"}, {"gama", 2}}); });
  EXPECT_NE(msg.find("'gama'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gamma"), std::string::npos) << msg;
  msg = test::error_of([] { make_loss(json{{"type", "combo"}, {"weights", {{"bce", 1}, {"dise", 1}}}}); });
  EXPECT_NE(msg.find("'dise'"), std::string::npos) << msg;
  msg = test::error_of([] { make_loss(json{{"type", "bce"}, {"pos_weight", "2"}}); });
  EXPECT_NE(msg.find("pos_weight"), std::string::npos) << msg;
  msg = test::error_of([] { make_loss(json{{"type", "bce"}, {"label_smoothing", 1.5}}); });
  EXPECT_NE(msg.find("label_smoothing"), std::string::npos) << msg;
  msg = test::error_of([] { make_loss(json{{"type", "combo"}, {"losses", {{{"type", "bce"}}, {{"type", "bce"}}}}}); });
  EXPECT_NE(msg.find("distinct"), std::string::npos) << msg;
  msg = test::error_of([] { BceLoss()(torch::zeros({2, 1, 2, 2}), torch::zeros({2, 1, 2, 3})); });
  EXPECT_NE(msg.find("shape"), std::string::npos) << msg;
}

namespace {

// Independent implementations on a random 3x1x5x5 batch: torch's BCE with pos_weight and
// torchvision.ops.sigmoid_focal_loss; values and gradients.
const char* kLossScript = R"PY(
import sys, json, torch, torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss
OUT = sys.argv[1]
torch.manual_seed(0)
x = (torch.randn(3, 1, 5, 5) * 3).double()
y = (torch.rand(3, 1, 5, 5) > 0.7).double()
res = {"x": x.flatten().tolist(), "y": y.flatten().tolist()}
def record(name, f):
    xx = x.clone().requires_grad_(True)
    l = f(xx)
    l.backward()
    res[name] = {"value": l.item(), "grad": xx.grad.flatten().tolist()}
record("bce_pw3", lambda xx: F.binary_cross_entropy_with_logits(xx, y, pos_weight=torch.tensor(3.0, dtype=torch.double)))
record("focal", lambda xx: sigmoid_focal_loss(xx, y, alpha=-1, gamma=2.0, reduction="mean"))
record("focal_a", lambda xx: sigmoid_focal_loss(xx, y, alpha=0.25, gamma=1.5, reduction="mean"))
json.dump(res, open(OUT + "/losses.json", "w"))
)PY";

}  // namespace

TEST(Losses, MatchTorchAndTorchvisionOnRandomData) {
  const auto reference = test::run_python_reference(kLossScript);
  if (!reference->skip_reason.empty()) GTEST_SKIP() << reference->skip_reason;
  ASSERT_TRUE(reference->failure.empty()) << reference->failure;
  const auto r = json::parse(std::ifstream(reference->dir / "losses.json"));
  const auto as_tensor = [](const json& v) {
    return torch::tensor(v.get<std::vector<double>>(), torch::kFloat64).reshape({3, 1, 5, 5});
  };
  const auto y = as_tensor(r.at("y"));
  const std::vector<std::pair<std::string, LossPtr>> cases = {
      {"bce_pw3", std::make_shared<BceLoss>(BceOptions{3.0, 0.0})},
      {"focal", std::make_shared<FocalLoss>(FocalOptions{2.0, std::nullopt})},
      {"focal_a", std::make_shared<FocalLoss>(FocalOptions{1.5, 0.25})}};
  for (const auto& [name, loss] : cases) {
    auto x = as_tensor(r.at("x")).requires_grad_(true);
    const auto l = (*loss)(x, y);
    l.backward();
    EXPECT_NEAR(l.item<double>(), r.at(name).at("value").get<double>(), 1e-12) << name;
    const auto grad = torch::tensor(r.at(name).at("grad").get<std::vector<double>>(), torch::kFloat64);
    EXPECT_LT((x.grad().flatten() - grad).abs().max().item<double>(), 1e-12) << name;
  }
}

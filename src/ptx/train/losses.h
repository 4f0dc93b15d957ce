// Training losses for segmentation (N x C x H x W) and classification (N x C), all on logits
// (no sigmoid before them), all returning a scalar that keeps the inputs' device and dtype.
// Targets are 0/1 (any dtype; converted to the logits' dtype and device) of the logits' shape.
//
//   bce           mean binary cross-entropy; pos_weight scales the positives' term, label_smoothing
//                 s turns targets into y (1 - s) + s / 2 (Keras' binary label smoothing)
//   dice          soft Dice 1 - (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth), p = sigmoid;
//                 per_image: one Dice per image (its channels and pixels), averaged over the
//                 batch; else one Dice over the whole batch. (Dice, not Jaccard: the denominator
//                 is |X| + |Y|, not |X u Y|.) smooth > 0 makes an empty image predicted empty
//                 score 1; with smooth 0 it is 0/0.
//   focal         mean of -alpha_t (1 - p_t)^gamma log(p_t), p_t the probability of the true
//                 class; without alpha, alpha_t = 1; with it alpha for positives, 1 - alpha else
//   lovasz        Lovasz hinge (Berman et al. 2018): hinge errors 1 - x (2y - 1) sorted in
//                 decreasing order, dotted with the gradient of the Lovasz extension of the
//                 Jaccard loss; per_image (default) averages one value per image
//   weighted_bce  BCE with per-batch class weights: positive pixels (P of them) weigh (P+N)/P,
//                 negative ones (N) (P+N)/N, so both classes contribute equally; a class absent
//                 from the batch gets no weight
//   combo         a weighted sum of named losses, e.g. bce 3 + dice 1 + focal 4, reporting each
//                 component's (unweighted) value
//
// Config (JSON): {"type": "focal", "gamma": 2.0, "alpha": 0.25}; a combo either as
// {"type": "combo", "weights": {"bce": 3, "dice": 1, "focal": 4}} (each with default options) or
// {"type": "combo", "losses": [{"type": "bce", "weight": 3}, {"type": "focal", "weight": 4,
// "gamma": 2, "name": "focal2"}]} (names default to the type and must be unique; "weights" are
// taken in key order).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptx::train {

// A loss and its parts: `loss` is differentiable; `components` are detached scalars (for a
// combo, each term's value before weighting; for a single loss, {type, loss}).
struct LossValue {
  torch::Tensor loss;
  std::vector<std::pair<std::string, torch::Tensor>> components;
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string type() const = 0;
  virtual torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const = 0;
  virtual LossValue evaluate(const torch::Tensor& logits, const torch::Tensor& target) const;
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) const {
    return forward(logits, target);
  }
};
using LossPtr = std::shared_ptr<Loss>;

struct BceOptions {
  double pos_weight = 1.0;
  double label_smoothing = 0.0;  // 0..1
};
class BceLoss : public Loss {
 public:
  explicit BceLoss(BceOptions options = {});
  std::string type() const override { return "bce"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;

 private:
  BceOptions options_;
};

struct DiceOptions {
  double smooth = 1.0;
  bool per_image = true;
};
class DiceLoss : public Loss {
 public:
  explicit DiceLoss(DiceOptions options = {});
  std::string type() const override { return "dice"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;

 private:
  DiceOptions options_;
};

struct FocalOptions {
  double gamma = 2.0;
  std::optional<double> alpha;  // 0..1, the positives' weight
};
class FocalLoss : public Loss {
 public:
  explicit FocalLoss(FocalOptions options = {});
  std::string type() const override { return "focal"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;

 private:
  FocalOptions options_;
};

class LovaszHingeLoss : public Loss {
 public:
  explicit LovaszHingeLoss(bool per_image = true);
  std::string type() const override { return "lovasz"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;

 private:
  bool per_image_;
};

class WeightedBceLoss : public Loss {
 public:
  std::string type() const override { return "weighted_bce"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;
};

class ComboLoss : public Loss {
 public:
  struct Term {
    std::string name;
    double weight;
    LossPtr loss;
  };
  explicit ComboLoss(std::vector<Term> terms);  // at least one term; names unique
  std::string type() const override { return "combo"; }
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& target) const override;
  // components: one per term, in order, unweighted.
  LossValue evaluate(const torch::Tensor& logits, const torch::Tensor& target) const override;
  const std::vector<Term>& terms() const { return terms_; }

 private:
  std::vector<Term> terms_;
};

// Builds a loss from its config (see the top of this file). Unknown types or keys, and bad
// values, are ptx::core::Error naming the key and listing the valid ones.
LossPtr make_loss(const nlohmann::json& config);
std::vector<std::string> loss_types();

// The Lovasz extension's gradient for ground-truth labels sorted by decreasing error (1-D):
// g[0] = J[0], g[i] = J[i] - J[i-1], J[i] the Jaccard loss of predicting the first i+1 pixels
// positive. Exposed for tests.
torch::Tensor lovasz_grad(const torch::Tensor& gt_sorted);

}  // namespace ptx::train

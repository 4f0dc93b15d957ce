#include "ptx/train/losses.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/train/json_options.h"

namespace ptx::train {

namespace F = torch::nn::functional;

namespace {

// The target as the logits' dtype and device, after checking the shapes agree.
torch::Tensor prepared_target(const char* loss, const torch::Tensor& logits, const torch::Tensor& target) {
  if (!logits.defined() || !target.defined()) throw core::Error(std::string(loss) + " loss: undefined tensor");
  if (!logits.is_floating_point())
    throw core::Error(std::string(loss) + " loss: logits must be floating point");
  if (logits.dim() < 1 || logits.numel() == 0)
    throw core::Error(std::string(loss) + " loss: empty logits");
  if (logits.sizes() != target.sizes())
    throw core::Error(std::string(loss) + " loss: logits " + c10::str(logits.sizes()) + " and target " +
                      c10::str(target.sizes()) + " differ in shape");
  return target.to(logits.options());
}

torch::Tensor bce_elements(const torch::Tensor& logits, const torch::Tensor& target) {
  return F::binary_cross_entropy_with_logits(
      logits, target, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
}

void check_range(const std::string& what, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    throw core::Error(what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                      std::to_string(value));
}

}  // namespace

LossValue Loss::evaluate(const torch::Tensor& logits, const torch::Tensor& target) const {
  auto loss = forward(logits, target);
  return {loss, {{type(), loss.detach()}}};
}

BceLoss::BceLoss(BceOptions options) : options_(options) {
  check_range("bce loss: label_smoothing", options_.label_smoothing, 0.0, 1.0);
  if (!(options_.pos_weight > 0)) throw core::Error("bce loss: pos_weight must be positive");
}

torch::Tensor BceLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  auto y = prepared_target("bce", logits, target);
  if (options_.label_smoothing > 0) y = y * (1.0 - options_.label_smoothing) + 0.5 * options_.label_smoothing;
  auto opts = F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kMean);
  if (options_.pos_weight != 1.0) opts.pos_weight(torch::full({}, options_.pos_weight, logits.options()));
  return F::binary_cross_entropy_with_logits(logits, y, opts);
}

DiceLoss::DiceLoss(DiceOptions options) : options_(options) {
  if (!(options_.smooth >= 0)) throw core::Error("dice loss: smooth must be >= 0");
}

torch::Tensor DiceLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  const auto y = prepared_target("dice", logits, target);
  const auto p = torch::sigmoid(logits);
  // One row per image (per_image) or a single row for the whole batch.
  const int64_t rows = options_.per_image ? logits.size(0) : 1;
  const auto pf = p.reshape({rows, -1}), yf = y.reshape({rows, -1});
  const auto intersection = (pf * yf).sum(1);
  const auto cardinality = pf.sum(1) + yf.sum(1);  // |X| + |Y|
  const auto dice = (2.0 * intersection + options_.smooth) / (cardinality + options_.smooth);
  return 1.0 - dice.mean();
}

FocalLoss::FocalLoss(FocalOptions options) : options_(options) {
  if (!(options_.gamma >= 0)) throw core::Error("focal loss: gamma must be >= 0");
  if (options_.alpha) check_range("focal loss: alpha", *options_.alpha, 0.0, 1.0);
}

torch::Tensor FocalLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  const auto y = prepared_target("focal", logits, target);
  const auto ce = bce_elements(logits, y);  // -log(p_t), computed stably from the logits
  const auto pt = torch::exp(-ce);
  auto loss = (1.0 - pt).clamp_min(0.0).pow(options_.gamma) * ce;
  if (options_.alpha) loss = loss * (y * *options_.alpha + (1.0 - y) * (1.0 - *options_.alpha));
  return loss.mean();
}

torch::Tensor lovasz_grad(const torch::Tensor& gt_sorted) {
  const auto gts = gt_sorted.sum();
  const auto intersection = gts - gt_sorted.cumsum(0);
  const auto union_ = gts + (1.0 - gt_sorted).cumsum(0);
  const auto jaccard = 1.0 - intersection / union_;
  if (jaccard.size(0) <= 1) return jaccard;
  return torch::cat({jaccard.slice(0, 0, 1), jaccard.slice(0, 1) - jaccard.slice(0, 0, -1)});
}

LovaszHingeLoss::LovaszHingeLoss(bool per_image) : per_image_(per_image) {}

torch::Tensor LovaszHingeLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  const auto y = prepared_target("lovasz", logits, target);
  const int64_t rows = per_image_ ? logits.size(0) : 1;
  const auto xf = logits.reshape({rows, -1}), yf = y.reshape({rows, -1});
  std::vector<torch::Tensor> losses;
  losses.reserve(rows);
  for (int64_t i = 0; i < rows; ++i) {
    const auto x = xf[i], labels = yf[i];
    const auto errors = 1.0 - x * (2.0 * labels - 1.0);
    const auto [errors_sorted, perm] = torch::sort(errors, /*dim=*/0, /*descending=*/true);
    const auto grad = lovasz_grad(labels.index_select(0, perm));
    losses.push_back(torch::dot(torch::relu(errors_sorted), grad));
  }
  return torch::stack(losses).mean();
}

torch::Tensor WeightedBceLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  const auto y = prepared_target("weighted_bce", logits, target);
  const double total = static_cast<double>(y.numel());
  torch::Tensor w;
  {
    torch::NoGradGuard no_grad;
    const auto positives = y.sum(), negatives = total - positives;
    // (P+N)/P for positives and (P+N)/N for negatives; a class with no pixels multiplies zeros.
    const auto w_pos = total / positives.clamp_min(1e-6), w_neg = total / negatives.clamp_min(1e-6);
    w = y * w_pos + (1.0 - y) * w_neg;
  }
  return (w * bce_elements(logits, y)).mean();
}

ComboLoss::ComboLoss(std::vector<Term> terms) : terms_(std::move(terms)) {
  if (terms_.empty()) throw core::Error("combo loss: no terms");
  std::set<std::string> names;
  for (const auto& t : terms_) {
    if (!t.loss) throw core::Error("combo loss: term '" + t.name + "' has no loss");
    if (!names.insert(t.name).second)
      throw core::Error("combo loss: two terms are named '" + t.name + "': give them distinct 'name's");
  }
}

LossValue ComboLoss::evaluate(const torch::Tensor& logits, const torch::Tensor& target) const {
  LossValue out;
  for (const auto& t : terms_) {
    auto value = t.loss->forward(logits, target);
    out.loss = out.loss.defined() ? out.loss + t.weight * value : t.weight * value;
    out.components.emplace_back(t.name, value.detach());
  }
  return out;
}

torch::Tensor ComboLoss::forward(const torch::Tensor& logits, const torch::Tensor& target) const {
  return evaluate(logits, target).loss;
}

// ---- configs ----

std::vector<std::string> loss_types() { return {"bce", "dice", "focal", "lovasz", "weighted_bce", "combo"}; }

namespace {

std::vector<std::string> keys_of(const std::string& type) {
  if (type == "bce") return {"type", "pos_weight", "label_smoothing"};
  if (type == "dice") return {"type", "smooth", "per_image"};
  if (type == "focal") return {"type", "gamma", "alpha"};
  if (type == "lovasz") return {"type", "per_image"};
  if (type == "weighted_bce") return {"type"};
  return {"type", "weights", "losses"};
}

std::string type_of(const nlohmann::json& config, const std::string& context) {
  if (!config.is_object() || !config.contains("type") || !config.at("type").is_string())
    throw core::Error(context + ": expected an object with a string 'type' (one of " + core::join(loss_types()) +
                      "), got " + config.dump());
  const auto type = config.at("type").get<std::string>();
  const auto types = loss_types();
  if (std::find(types.begin(), types.end(), type) == types.end())
    throw core::Error(context + ": unknown type '" + type + "': valid types are " + core::join(types));
  return type;
}

LossPtr build(const std::string& type, const JsonOptions& o);

// A combo's term: the loss's own keys plus weight and name.
ComboLoss::Term build_term(const nlohmann::json& config, const std::string& context) {
  const auto type = type_of(config, context);
  if (type == "combo") throw core::Error(context + ": a combo cannot contain a combo");
  auto keys = keys_of(type);
  keys.insert(keys.end(), {"weight", "name"});
  const JsonOptions o(config, context + " '" + type + "'", keys);
  return {o.string("name", type), o.number("weight", 1.0), build(type, o)};
}

LossPtr build(const std::string& type, const JsonOptions& o) {
  try {
    if (type == "bce") return std::make_shared<BceLoss>(
        BceOptions{o.number("pos_weight", 1.0), o.number("label_smoothing", 0.0)});
    if (type == "dice") return std::make_shared<DiceLoss>(
        DiceOptions{o.number("smooth", 1.0), o.boolean("per_image", true)});
    if (type == "focal") return std::make_shared<FocalLoss>(
        FocalOptions{o.number("gamma", 2.0), o.optional_number("alpha")});
    if (type == "lovasz") return std::make_shared<LovaszHingeLoss>(o.boolean("per_image", true));
    if (type == "weighted_bce") return std::make_shared<WeightedBceLoss>();
  } catch (const core::Error& e) {
    if (std::string(e.what()).rfind(o.context(), 0) == 0) throw;
    throw core::Error(o.context() + ": " + e.what());
  }
  // combo
  if (o.has("weights") == o.has("losses"))
    throw core::Error(o.context() + ": give either 'weights' ({\"bce\": 3, \"dice\": 1}) or 'losses' (a list "
                      "of loss configs with a 'weight')");
  std::vector<ComboLoss::Term> terms;
  if (o.has("weights")) {
    const auto& weights = o.at("weights");
    if (!weights.is_object() || weights.empty())
      throw core::Error(o.context() + ": 'weights' must map loss types to numbers, got " + weights.dump());
    for (const auto& [name, w] : weights.items()) {
      if (!w.is_number())
        throw core::Error(o.context() + ": the weight of '" + name + "' must be a number, got " + w.dump());
      terms.push_back(build_term({{"type", name}, {"weight", w}}, o.context() + " weights"));
    }
  } else {
    const auto& losses = o.at("losses");
    if (!losses.is_array() || losses.empty())
      throw core::Error(o.context() + ": 'losses' must be a non-empty list of loss configs");
    for (const auto& item : losses) terms.push_back(build_term(item, o.context() + " losses"));
  }
  return std::make_shared<ComboLoss>(std::move(terms));
}

}  // namespace

LossPtr make_loss(const nlohmann::json& config) {
  const auto type = type_of(config, "loss");
  const JsonOptions o(config, "loss '" + type + "'", keys_of(type));
  return build(type, o);
}

}  // namespace ptx::train

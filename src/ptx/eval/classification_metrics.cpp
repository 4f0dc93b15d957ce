#include "ptx/eval/classification_metrics.h"

#include <algorithm>
#include <numeric>

#include "ptx/core/error.h"

namespace ptx::eval {

std::optional<double> roc_auc(const std::vector<float>& scores, const std::vector<float>& labels) {
  if (scores.size() != labels.size()) throw core::Error("roc_auc: scores and labels differ in length");
  // Mann-Whitney U: the mean rank of the positives, with tied scores given their average rank.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;  // ranks i+1..j
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]] > 0.5f) {
        positive_rank_sum += rank;
        ++positives;
      }
    i = j;
  }
  const int64_t negatives = static_cast<int64_t>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2.0) / (p * static_cast<double>(negatives));
}

double BinaryCounts::accuracy() const {
  const int64_t n = tp + fp + tn + fn;
  return n ? static_cast<double>(tp + tn) / static_cast<double>(n) : 0.0;
}

double BinaryCounts::f1() const {
  const int64_t d = 2 * tp + fp + fn;
  return d ? 2.0 * static_cast<double>(tp) / static_cast<double>(d) : 1.0;
}

BinaryCounts count_at(const std::vector<float>& scores, const std::vector<float>& labels, double threshold) {
  if (scores.size() != labels.size()) throw core::Error("count_at: scores and labels differ in length");
  BinaryCounts c;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] > threshold, truth = labels[i] > 0.5f;
    (predicted ? (truth ? c.tp : c.fp) : (truth ? c.fn : c.tn)) += 1;
  }
  return c;
}

}  // namespace ptx::eval

// Classifier validation metrics: ROC AUC (the area under the ROC curve, ties counted half, as
// scikit-learn's roc_auc_score), and accuracy and F1 at a probability threshold.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace ptx::eval {

// AUC of scores against 0/1 labels; nullopt when one class is absent (AUC undefined).
std::optional<double> roc_auc(const std::vector<float>& scores, const std::vector<float>& labels);

struct BinaryCounts {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  double accuracy() const;
  double f1() const;  // 2TP / (2TP + FP + FN); 1 when there is nothing positive at all
};
BinaryCounts count_at(const std::vector<float>& scores, const std::vector<float>& labels, double threshold = 0.5);

}  // namespace ptx::eval

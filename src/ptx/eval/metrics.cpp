#include "ptx/eval/metrics.h"

namespace ptx::eval {

double image_dice(int64_t truth_pixels, int64_t predicted_pixels, int64_t intersection_pixels) {
  if (truth_pixels == 0 && predicted_pixels == 0) return 1.0;
  return 2.0 * double(intersection_pixels) / double(truth_pixels + predicted_pixels);
}

double DiceAccumulator::add(int64_t truth_pixels, int64_t predicted_pixels, int64_t intersection_pixels) {
  const double d = image_dice(truth_pixels, predicted_pixels, intersection_pixels);
  sum_ += d;
  ++counts_.images;
  const bool truth = truth_pixels > 0, predicted = predicted_pixels > 0;
  if (truth) sum_positive_ += d;
  if (truth && predicted) ++counts_.true_positives;
  if (!truth && predicted) ++counts_.false_positives;
  if (!truth && !predicted) ++counts_.true_negatives;
  if (truth && !predicted) ++counts_.false_negatives;
  return d;
}

DiceSummary DiceAccumulator::aggregate() const {
  DiceSummary s = counts_;
  s.dice = s.images ? sum_ / double(s.images) : 0.0;
  const std::size_t positives = s.true_positives + s.false_negatives;
  s.dice_on_positives = positives ? sum_positive_ / double(positives) : 0.0;
  return s;
}

}  // namespace ptx::eval

// The challenge's metric: mean over images of Dice = 2|X∩Y| / (|X|+|Y|), where an image whose
// truth and prediction are both empty scores 1 and one with exactly one empty mask scores 0.
// Accumulates per image, then aggregate(), then reset() (one streaming object for validation,
// evaluation and threshold search alike).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ptx::eval {

// Dice of one image from pixel counts, with the challenge's empty-mask rule.
double image_dice(int64_t truth_pixels, int64_t predicted_pixels, int64_t intersection_pixels);

struct DiceSummary {
  std::size_t images = 0;
  double dice = 0;               // the challenge metric
  double dice_on_positives = 0;  // mean Dice over images whose truth is not empty
  std::size_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;  // image level
};

class DiceAccumulator {
 public:
  // Adds one image; returns its Dice.
  double add(int64_t truth_pixels, int64_t predicted_pixels, int64_t intersection_pixels);
  DiceSummary aggregate() const;
  void reset() { *this = DiceAccumulator(); }

 private:
  double sum_ = 0, sum_positive_ = 0;
  DiceSummary counts_;
};

}  // namespace ptx::eval

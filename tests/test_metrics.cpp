#include <gtest/gtest.h>

#include "ptx/core/atomic_file.h"
#include "ptx/eval/evaluate_labels.h"
#include "ptx/eval/metrics.h"
#include "test_support.h"

using namespace ptx;

TEST(Metrics, ChallengeDiceRules) {
  EXPECT_DOUBLE_EQ(eval::image_dice(0, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(eval::image_dice(10, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(eval::image_dice(0, 7, 0), 0.0);
  EXPECT_DOUBLE_EQ(eval::image_dice(10, 30, 10), 0.5);
}

TEST(Metrics, AccumulatorCountsImagesAndResets) {
  eval::DiceAccumulator acc;
  acc.add(0, 0, 0);     // TN, 1
  acc.add(10, 10, 5);   // TP, 0.5
  acc.add(0, 4, 0);     // FP, 0
  acc.add(8, 0, 0);     // FN, 0
  const eval::DiceSummary s = acc.aggregate();
  EXPECT_EQ(s.images, 4u);
  EXPECT_DOUBLE_EQ(s.dice, 1.5 / 4);
  EXPECT_DOUBLE_EQ(s.dice_on_positives, 0.5 / 2);
  EXPECT_EQ(s.true_positives, 1u);
  EXPECT_EQ(s.false_positives, 1u);
  EXPECT_EQ(s.true_negatives, 1u);
  EXPECT_EQ(s.false_negatives, 1u);
  acc.reset();
  EXPECT_EQ(acc.aggregate().images, 0u);
}

TEST(EvaluateLabels, ScoresRunsAndReportsMissingPredictions) {
  test::TempDir dir;
  core::write_file_atomic(dir.path() / "truth.csv", "ImageId,EncodedPixels\na,0 10\na,20 10\nb,-1\nc,5 5\nd,-1\n");
  // a: predicted 0..19 -> truth 20 px (0-9, 20-29), pred 20, overlap 10 -> 0.5. b: correct empty.
  // c: missing -> empty prediction -> 0. d: false positive -> 0.
  core::write_file_atomic(dir.path() / "pred.csv", "ImageId,EncodedPixels\na,0 20\nb,-1\nd,1 1\nextra,-1\n");
  const eval::Evaluation e = eval::evaluate_labels(io::read_label_csv(dir / "truth.csv"), io::read_label_csv(dir / "pred.csv"), 10, 10);
  EXPECT_DOUBLE_EQ(e.summary.dice, (0.5 + 1 + 0 + 0) / 4);
  EXPECT_EQ(e.missing_predictions, std::vector<std::string>{"c"});
  EXPECT_EQ(e.extra_predictions, 1u);
  EXPECT_EQ(e.images[0].truth_pixels, 20);
  EXPECT_EQ(e.images[0].intersection_pixels, 10);
}

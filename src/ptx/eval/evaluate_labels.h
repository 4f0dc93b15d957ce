// `ptx evaluate`: the challenge metric between a truth label CSV and a prediction CSV (both in the
// challenge's ImageId,EncodedPixels form), computed on runs without painting masks.
#pragma once
#include <string>
#include <vector>

#include "ptx/eval/metrics.h"
#include "ptx/io/label_csv.h"

namespace ptx::eval {

struct ImageScore {
  std::string image_id;
  int64_t truth_pixels, predicted_pixels, intersection_pixels;
  double dice;
  bool prediction_missing;
};

struct Evaluation {
  DiceSummary summary;
  std::vector<ImageScore> images;            // in the truth's order
  std::vector<std::string> missing_predictions;  // truth ImageIds with no prediction (scored as empty)
  std::size_t extra_predictions = 0;         // prediction ImageIds not in the truth (ignored)
};

// Scores every ImageId of truth; masks are width x height (the challenge: 1024 x 1024).
Evaluation evaluate_labels(const io::LabelSet& truth, const io::LabelSet& predicted, int width, int height);

}  // namespace ptx::eval

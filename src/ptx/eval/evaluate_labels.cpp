#include "ptx/eval/evaluate_labels.h"

namespace ptx::eval {

Evaluation evaluate_labels(const io::LabelSet& truth, const io::LabelSet& predicted, int width, int height) {
  Evaluation e;
  DiceAccumulator acc;
  std::size_t matched = 0;
  for (const io::ImageLabels& t : truth.images) {
    const io::Runs truth_runs = truth.runs(t, width, height);
    const io::ImageLabels* p = predicted.find(t.image_id);
    io::Runs pred_runs;
    if (p) {
      pred_runs = predicted.runs(*p, width, height);
      ++matched;
    } else {
      e.missing_predictions.push_back(t.image_id);
    }
    ImageScore s{t.image_id, io::run_pixels(truth_runs), io::run_pixels(pred_runs),
                 io::intersection_pixels(truth_runs, pred_runs), 0.0, p == nullptr};
    s.dice = acc.add(s.truth_pixels, s.predicted_pixels, s.intersection_pixels);
    e.images.push_back(std::move(s));
  }
  e.summary = acc.aggregate();
  e.extra_predictions = predicted.images.size() - matched;
  return e;
}

}  // namespace ptx::eval

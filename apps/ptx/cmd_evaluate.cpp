// ptx evaluate --truth CSV --pred CSV: the challenge metric.
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/eval/evaluate_labels.h"
#include "ptx/io/csv.h"

namespace ptx::app {

namespace {
struct EvaluateArgs {
  std::string truth, pred, per_image, rle_mode = "relative";
  int width = 1024, height = 1024;
};
}  // namespace

void add_evaluate(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("evaluate", "Score predicted masks against the truth with the challenge's metric (mean per-image Dice)");
  auto a = std::make_shared<EvaluateArgs>();
  cmd->add_option("--truth", a->truth, "truth label CSV (ImageId,EncodedPixels)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--pred", a->pred, "predicted label CSV, e.g. a submission")->required()->check(CLI::ExistingFile);
  cmd->add_option("--per-image", a->per_image, "write per-image Dice to this CSV");
  cmd->add_option("--width", a->width, "mask width in pixels")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--height", a->height, "mask height in pixels")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--rle", a->rle_mode, "RLE form of both files")->capture_default_str()->check(CLI::IsMember({"relative", "absolute"}));
  cmd->callback([a, &g] {
    const io::RleMode mode = io::parse_rle_mode(a->rle_mode);
    const eval::Evaluation e = eval::evaluate_labels(io::read_label_csv(a->truth, mode), io::read_label_csv(a->pred, mode), a->width, a->height);
    if (!a->per_image.empty()) {
      io::CsvWriter w(a->per_image, {"ImageId", "dice", "truth_pixels", "predicted_pixels", "intersection_pixels", "prediction_missing"});
      for (const auto& s : e.images)
        w.row({s.image_id, std::to_string(s.dice), std::to_string(s.truth_pixels), std::to_string(s.predicted_pixels),
               std::to_string(s.intersection_pixels), s.prediction_missing ? "1" : "0"});
      w.commit();
    }
    const auto& s = e.summary;
    if (g.json) {
      std::cout << nlohmann::json{{"dice", s.dice}, {"dice_on_positives", s.dice_on_positives}, {"images", s.images},
                                  {"true_positives", s.true_positives}, {"false_positives", s.false_positives},
                                  {"true_negatives", s.true_negatives}, {"false_negatives", s.false_negatives},
                                  {"missing_predictions", e.missing_predictions.size()},
                                  {"extra_predictions", e.extra_predictions}}.dump() << "\n";
    } else {
      std::printf("dice (challenge metric)  %.4f over %zu images\n", s.dice, s.images);
      std::printf("dice on positives        %.4f\n", s.dice_on_positives);
      std::printf("images TP %zu  FP %zu  TN %zu  FN %zu\n", s.true_positives, s.false_positives, s.true_negatives, s.false_negatives);
    }
    if (!e.missing_predictions.empty())
      std::fprintf(stderr, "warning: %zu truth image(s) have no prediction and count as empty (first: %s)\n",
                   e.missing_predictions.size(), e.missing_predictions.front().c_str());
    if (e.extra_predictions) std::fprintf(stderr, "warning: %zu predicted image(s) are not in the truth and were ignored\n", e.extra_predictions);
  });
}

}  // namespace ptx::app

#include "ptx/demo/demo.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include "ptx/core/atomic_file.h"
#include "ptx/core/embedded.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/strings.h"
#include "ptx/data/convert.h"
#include "ptx/data/index_csv.h"
#include "ptx/data/synth.h"
#include "ptx/demo/report.h"
#include "ptx/eval/evaluate_labels.h"
#include "ptx/eval/threshold_search.h"
#include "ptx/io/csv.h"
#include "ptx/io/image.h"
#include "ptx/io/label_csv.h"
#include "ptx/post/overlay.h"
#include "ptx/post/submission.h"
#include "ptx/predict/predict_files.h"
#include "ptx/train/config_file.h"
#include "ptx/train/trainer.h"

namespace fs = std::filesystem;

namespace ptx::demo {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string absolute(const fs::path& p) { return fs::absolute(p).lexically_normal().string(); }

// The steps' names and durations, for the log and the report's timing table.
class Steps {
 public:
  explicit Steps(int total) : total_(total) {}
  void begin(const std::string& name) {
    name_ = name;
    start_ = Clock::now();
    core::info("[" + std::to_string(++current_) + "/" + std::to_string(total_) + "] " + name);
  }
  void end(const std::string& detail) {
    const double s = seconds_since(start_);
    rows_.push_back({name_, core::fixed(s, 1), detail});
    core::info("      " + detail + " (" + core::fixed(s, 1) + " s)");
  }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  int total_, current_ = 0;
  std::string name_;
  Clock::time_point start_;
  std::vector<std::vector<std::string>> rows_;
};

// The label rows of some images as a label CSV (the truth of the validation fold).
void write_truth_subset(const io::LabelSet& labels, const std::vector<std::string>& ids, const fs::path& path) {
  io::CsvWriter csv(path.string(), {"ImageId", "EncodedPixels"});
  for (const auto& id : ids) {
    const auto* l = labels.find(id);
    if (!l) throw core::Error(labels.path + ": no label row for " + id);
    for (const auto& row : l->rows) csv.row({id, row.rle});
  }
  csv.commit();
}

std::string kind_of(const eval::ImageScore& s) {
  if (s.truth_pixels > 0) return s.predicted_pixels > 0 ? "true positive" : "false negative";
  return s.predicted_pixels > 0 ? "false positive" : "true negative";
}

// The picture of one prediction beside its truth, as PNG bytes.
Picture overlay_picture(const predict::Radiograph& r, const cv::Mat& mask, const cv::Mat& truth, const std::string& caption) {
  return {io::encode_png(post::render_comparison(r.gray, {mask}, {"ptx"}, truth, 320)), caption};
}

// A few examples of each outcome, in the order TP, FN, FP, TN.
std::vector<const eval::ImageScore*> gallery_choice(const eval::Evaluation& e) {
  const std::pair<const char*, std::size_t> quotas[] = {
      {"true positive", 4}, {"false negative", 2}, {"false positive", 2}, {"true negative", 2}};
  std::vector<const eval::ImageScore*> chosen;
  for (const auto& [kind, quota] : quotas) {
    std::size_t n = 0;
    for (const auto& s : e.images)
      if (n < quota && kind_of(s) == kind) {
        chosen.push_back(&s);
        ++n;
      }
  }
  return chosen;
}

std::vector<std::vector<std::string>> metric_rows(const eval::DiceSummary& s) {
  return {{"images", std::to_string(s.images)},
          {"Dice (the challenge metric)", core::fixed(s.dice, 4)},
          {"Dice on images with a pneumothorax", core::fixed(s.dice_on_positives, 4)},
          {"true positives (pneumothorax found)", std::to_string(s.true_positives)},
          {"false negatives (pneumothorax missed)", std::to_string(s.false_negatives)},
          {"true negatives (correctly empty)", std::to_string(s.true_negatives)},
          {"false positives (found where there is none)", std::to_string(s.false_positives)}};
}

// The single CSV of a folder, read as its labels; nullopt when there is none or it is no label file.
std::optional<io::LabelSet> labels_in(const std::string& dir) {
  std::vector<fs::path> csvs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".csv") csvs.push_back(e.path());
  if (csvs.size() != 1) return std::nullopt;
  try {
    return io::read_label_csv(csvs.front().string());
  } catch (const core::Error& e) {
    core::warn(std::string(e.what()) + ": shown without truth");
    return std::nullopt;
  }
}

// What a demo writes into its folder: the parts a new run replaces.
const std::vector<std::string> kDemoOutputs{"synth",  "data",  "train",          "validation", "thresholds",
                                            "test",   "extra", "submission.csv", "report.html"};
constexpr const char* kDemoMarker = "ptx-demo.txt";

// A new demo starts from nothing: the parts an earlier demo left are removed, but only from a
// folder an earlier demo made (it holds the marker): --out pointing at anything else that is not
// empty is refused rather than cleared.
void prepare_output(const fs::path& out) {
  if (fs::exists(out) && !fs::is_empty(out)) {
    if (!fs::exists(out / kDemoMarker))
      throw core::UsageError("--out " + out.string() + " is not empty and was not made by ptx demo: choose a new folder");
    for (const auto& name : kDemoOutputs) fs::remove_all(out / name);
  }
  fs::create_directories(out);
  core::write_file_atomic(out / kDemoMarker, "A folder of ptx demo: the next demo run here replaces its contents.\n");
}

}  // namespace

std::string default_extra_folder() {
  const char* env = std::getenv("PTX_SHARED_DATA");
  const fs::path dir = fs::path(env ? env : "../shared/data") / "siim-sample";
  return fs::is_directory(dir) ? dir.string() : "";
}

DemoSummary run_demo(const DemoOptions& o) {
  const auto started = Clock::now();
  if (o.minutes <= 0) throw core::UsageError("--minutes must be > 0");
  if (o.train_images < 20) throw core::UsageError("--count must be at least 20 (five folds with positives in each)");
  const fs::path out = absolute(o.out);
  prepare_output(out);
  const fs::path synth_dir = out / "synth", data_dir = out / "data";
  Steps steps(5 + int(o.extra.size()));
  // The training configuration, checked before anything runs (a bad --set fails at once).
  YAML::Node config = YAML::Load(embedded::kDemoConfig);
  std::vector<std::string> overrides{"data.index=" + (data_dir / "index.csv").string(),
                                     "output=" + (out / "train").string(), "seed=" + std::to_string(o.seed)};
  overrides.insert(overrides.end(), o.overrides.begin(), o.overrides.end());
  train::apply_overrides(config, overrides);
  auto train_config = train::parse_train_config(config, out.string());

  // 1: the synthetic training and test sets, challenge-style DICOMs and RLE.
  steps.begin("synthesising " + std::to_string(o.train_images) + " training radiographs");
  data::SynthOptions so;
  so.out = synth_dir.string();
  so.count = o.train_images;
  so.size = o.size;
  so.seed = o.seed;
  so.threads = o.threads;
  so.progress = o.progress;
  const auto train_set = data::synthesize_dataset(so);
  so.count = o.test_images;
  so.seed = o.seed + 1000003;  // another stream: no test image repeats a training one
  so.split_name = "test";
  const auto test_set = data::synthesize_dataset(so);
  steps.end(std::to_string(train_set.images) + " training (" + std::to_string(train_set.positives) +
            " with a pneumothorax) and " + std::to_string(test_set.images) + " test (" +
            std::to_string(test_set.positives) + ") images in " + synth_dir.string());

  // 2: converted once to the PNG cache training reads.
  steps.begin("converting the training set");
  data::ConvertOptions co;
  co.dicom_dirs = {train_set.dicom_dir};
  co.labels = train_set.labels_csv;
  co.out = data_dir.string();
  co.size = o.size;
  co.seed = o.seed;
  co.threads = o.threads;
  co.progress = o.progress;
  const auto converted = data::convert_dataset(co);
  steps.end(std::to_string(converted.images) + " images and masks at " + std::to_string(o.size) + " px, 5 folds");

  // 3: training, within what the budget leaves once the remaining steps (about a minute) are kept.
  const double train_minutes = std::max(0.25, o.minutes - seconds_since(started) / 60 - 1.0);
  train_config.minutes = train_config.minutes > 0 ? std::min(train_config.minutes, train_minutes) : train_minutes;
  steps.begin("training " + train_config.model.arch + " " + train_config.model.encoder + " for up to " +
              std::to_string(train_config.epochs) + " epochs (" + core::fixed(train_config.minutes, 1) + " min budget)");
  train::TrainOptions to;
  to.device = o.device;
  to.progress = o.progress;
  const auto trained = train::train_model(train_config, to);
  steps.end(std::to_string(trained.history.size()) + " epochs (stopped by " + trained.stop_reason +
            "), best validation score " + core::fixed(trained.best_score, 4) + " at epoch " + std::to_string(trained.best_epoch));

  const auto segmenter = predict::Ensemble::load({trained.best_checkpoint}, {}, o.device);
  const predict::Ensemble no_classifier;

  // 4: the triplet searched on the validation fold's probability maps.
  steps.begin("searching the post-processing triplet on the validation fold");
  const auto index = data::read_index_csv((data_dir / "index.csv").string());
  std::vector<std::string> valid_ids, valid_files;
  for (const auto& row : index)
    if (row.fold == train_config.data.fold) {
      valid_ids.push_back(row.image_id);
      valid_files.push_back((data_dir / row.image).string());
    }
  const fs::path valid_dir = out / "validation";
  predict::PredictOptions po;
  po.inputs = valid_files;
  po.out = valid_dir.string();
  po.save_probabilities = true;
  po.progress = o.progress;
  predict::predict_files(segmenter, no_classifier, po);
  const auto train_labels = io::read_label_csv(train_set.labels_csv);
  write_truth_subset(train_labels, valid_ids, valid_dir / "truth.csv");
  eval::ThresholdSearchOptions search;
  search.probabilities = (valid_dir / "probabilities").string();
  search.truth = (valid_dir / "truth.csv").string();
  search.grid = train_config.triplets;
  search.out = (out / "thresholds").string();
  search.threads = o.threads;
  search.progress = o.progress;
  const auto searched = eval::search_thresholds(search);
  const post::Triplet triplet = search.grid.at(searched.best);
  const auto& valid_score = searched.points[searched.best];
  steps.end("best of " + std::to_string(searched.points.size()) + " triplets: " + triplet.str() + ", Dice " +
            core::fixed(valid_score.dice, 4) + " on " + std::to_string(searched.images) + " validation images");

  // 5: the held-out test set, its submission and its score.
  steps.begin("predicting the " + std::to_string(test_set.images) + " test radiographs");
  const fs::path test_dir = out / "test";
  po.inputs = {test_set.dicom_dir};
  po.out = test_dir.string();
  po.image.triplet = triplet;
  po.dicom_seg = true;
  const auto predicted = predict::predict_files(segmenter, no_classifier, po);
  post::SubmissionOptions sub;
  sub.probabilities = (test_dir / "probabilities").string();
  sub.triplet = triplet;
  sub.out = (out / "submission.csv").string();
  sub.threads = o.threads;
  post::write_submission(sub);
  const auto test_labels = io::read_label_csv(test_set.labels_csv);
  const auto evaluation = eval::evaluate_labels(test_labels, io::read_label_csv(sub.out), o.size, o.size);
  const auto& test_score = evaluation.summary;
  steps.end(std::to_string(predicted.images) + " images at " + core::fixed(predicted.images / std::max(1e-9, predicted.seconds), 1) +
            " images/s, " + std::to_string(predicted.dicom_seg) + " DICOM SEG written; test Dice " + core::fixed(test_score.dice, 4));

  Report report;
  report.title = "ptx demo: pneumothorax segmentation on synthetic radiographs";
  report.subtitle = "A model trained from scratch on phantom chest radiographs, its post-processing searched on "
                    "validation, and a held-out test set scored with the SIIM-ACR challenge metric.";
  ReportSection summary{"Results on the held-out test set",
                        "The test set is " + std::to_string(test_set.images) +
                            " synthetic radiographs the model never saw (" + std::to_string(test_set.positives) +
                            " with a pneumothorax). Masks come from the triplet " + triplet.str() +
                            " (top score, area, bottom score) searched on the validation fold, where it scored " +
                            core::fixed(valid_score.dice, 4) + ".",
                        {Table{{"measure", "value"}, metric_rows(test_score)}},
                        {}};
  report.sections.push_back(summary);

  ReportSection training{"Training",
                         "Configuration configs/demo.yaml: " + train_config.model.arch + " with a " +
                             train_config.model.encoder + " encoder trained from scratch at " +
                             std::to_string(train_config.data.size) + " px, batch " +
                             std::to_string(train_config.batch_size) + ". Stopped by " + trained.stop_reason +
                             "; the best epoch (" + std::to_string(trained.best_epoch) + ") is the one used.",
                         {},
                         {}};
  Table epochs{{"epoch", "learning rate", "train loss", "validation loss", "validation Dice (best triplet)", "best triplet",
                "images/s", "seconds"},
               {}};
  for (const auto& e : trained.history)
    epochs.rows.push_back({std::to_string(e.epoch), core::fixed(e.lr, 6), core::fixed(e.train_loss, 4), core::fixed(e.valid_loss, 4),
                           core::fixed(e.score, 4), e.triplet.str(), core::fixed(e.images_per_s, 1), core::fixed(e.seconds, 1)});
  training.tables.push_back(epochs);
  const fs::path curves = out / "train" / "curves.png";
  if (fs::exists(curves)) training.pictures.push_back({core::read_file(curves), "loss and validation score per epoch"});
  report.sections.push_back(training);

  report.sections.push_back(
      {"Post-processing search",
       "Every triplet of the grid scored with the challenge metric on the " + std::to_string(searched.images) +
           " validation images' probability maps (" + std::to_string(searched.points.size()) + " points in " +
           core::fixed(searched.seconds, 2) + " s). Best: " + triplet.str() + ", Dice " + core::fixed(valid_score.dice, 4) + ".",
       {},
       {{core::read_file(fs::path(search.out) / "heatmap.png"),
         "the metric against top score (rows) and area threshold (columns), each cell the best over bottom"}}});

  // The gallery: red is the prediction, green the truth.
  std::map<std::string, std::string> test_paths;
  for (const auto& r : test_set.records) test_paths[r.image_id] = (synth_dir / r.dicom_path).string();
  ReportSection gallery{"Test images", "Red: ptx's prediction. Green outline: the truth.", {}, {}};
  for (const auto* s : gallery_choice(evaluation)) {
    const auto r = predict::read_radiograph(test_paths.at(s->image_id));
    const cv::Mat mask = io::read_gray_image((test_dir / "masks" / (s->image_id + ".png")).string());
    const cv::Mat truth = test_labels.mask(*test_labels.find(s->image_id), r.gray.cols, r.gray.rows);
    gallery.pictures.push_back(overlay_picture(r, mask, truth, kind_of(*s) + ", Dice " + core::fixed(s->dice, 2)));
  }
  report.sections.push_back(gallery);

  // 6: real radiographs, when there are any.
  for (const auto& dir : o.extra) {
    steps.begin("predicting the real radiographs in " + dir);
    const fs::path extra_out = out / "extra" / fs::path(dir).lexically_normal().filename();
    po.inputs = {dir};
    po.out = extra_out.string();
    po.save_probabilities = false;
    const auto s = predict::predict_files(segmenter, no_classifier, po);
    ReportSection real{"Real radiographs: " + dir,
                       "Real DICOMs read through the same path as the challenge's (" + std::to_string(s.images) +
                           " images, " + std::to_string(s.positive) + " with a predicted mask). The demo model has "
                           "seen only phantoms, so these show the pipeline on real files, not a trained "
                           "model's accuracy: train configs/unet_resnet34.yaml on the challenge data for that.",
                       {},
                       {}};
    const auto truth = labels_in(dir);
    std::string detail = std::to_string(s.images) + " images, " + std::to_string(s.positive) + " with a mask";
    cv::Size image_size;  // the masks' geometry for the metric (the challenge's images share one)
    for (const auto& file : predict::radiograph_files({dir})) {
      const auto r = predict::read_radiograph(file);
      const fs::path mask_file = extra_out / "masks" / (r.image_id + ".png");
      if (!fs::exists(mask_file)) continue;  // failed: listed in errors.csv
      const cv::Mat mask = io::read_gray_image(mask_file.string());
      image_size = r.gray.size();
      const auto* t = truth ? truth->find(r.image_id) : nullptr;
      const cv::Mat truth_mask = t ? truth->mask(*t, r.gray.cols, r.gray.rows) : cv::Mat();
      const std::string labelled = !t ? "no labels" : t->positive() ? "labelled pneumothorax" : "labelled without pneumothorax";
      const int area = cv::countNonZero(mask);
      real.pictures.push_back(overlay_picture(
          r, mask, truth_mask, labelled + "; " + (area ? "predicted " + std::to_string(area) + " px" : "predicted empty")));
    }
    if (truth && !real.pictures.empty()) {
      const auto e = eval::evaluate_labels(*truth, io::read_label_csv((extra_out / "predictions.csv").string()),
                                           image_size.width, image_size.height);
      real.tables.push_back({{"measure", "value"}, metric_rows(e.summary)});
      detail += ", Dice " + core::fixed(e.summary.dice, 4) + " against " + truth->path;
    }
    report.sections.push_back(real);
    steps.end(detail);
  }

  const fs::path report_path = out / "report.html";
  ReportSection timing{"Timings",
                       "On " + std::to_string(o.threads) + " thread(s), " + o.device.str() + "; " +
                           core::fixed(seconds_since(started), 1) + " s in all.",
                       {Table{{"step", "seconds", "result"}, steps.rows()}},
                       {}};
  report.sections.push_back(timing);
  report.sections.push_back({"Files",
                             "Everything is in " + out.string() +
                                 ": synth/ (the DICOMs and labels), data/ (the converted set), train/ (checkpoints, "
                                 "history.csv, curves.png), validation/ and thresholds/ (the search), test/ "
                                 "(predictions.csv, masks/, probabilities/, seg/ with DICOM Segmentations), "
                                 "submission.csv and this report.",
                             {},
                             {}});
  core::write_file_atomic(report_path, render_report_html(report));

  DemoSummary result;
  result.report = report_path.string();
  result.submission = sub.out;
  result.test_dice = test_score.dice;
  result.validation_dice = valid_score.dice;
  result.triplet = triplet.str();
  result.seconds = seconds_since(started);
  return result;
}

}  // namespace ptx::demo

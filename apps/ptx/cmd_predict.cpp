// ptx predict: masks, probability maps and predictions.csv for radiographs, with flip TTA,
// checkpoint ensembles and a classifier gate.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "device.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/predict/predict_files.h"
#include "ptx/train/config_file.h"

namespace fs = std::filesystem;

namespace ptx::app {

namespace {
struct PredictArgs {
  std::string blend;
  std::vector<std::string> checkpoints, classifiers;
  std::vector<double> weights;
  predict::PredictOptions options;
  std::string tta = "hflip", triplet, device = "cpu";
  int size = 0;
};
// A blend file, as the first-place solution described its ensembles:
//   models: [{checkpoint: a.ckpt, weight: 0.6}, {checkpoint: b.ckpt, weight: 0.4}]
//   classifiers: [{checkpoint: c.ckpt}]    # optional
//   gate: 0.6                              # optional
//   triplet: 0.75,2000,0.4                 # optional
// Relative paths resolve against the blend file's folder. Adds to the command line's lists.
void read_blend(PredictArgs& a) {
  const YAML::Node blend = train::load_config_file(a.blend);
  train::check_keys(blend, a.blend, {"models", "classifiers", "gate", "triplet"});
  const fs::path dir = fs::path(a.blend).parent_path();
  const auto members = [&](const char* key, std::vector<std::string>& paths, std::vector<double>* weights) {
    const YAML::Node list = blend[key];
    if (!list) return;
    if (!list.IsSequence()) throw core::Error(a.blend + ": " + key + ": expected a list of {checkpoint, weight}");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string where = a.blend + ": " + key + "[" + std::to_string(i) + "]";
      train::check_keys(list[i], where, weights ? std::vector<std::string>{"checkpoint", "weight"}
                                                : std::vector<std::string>{"checkpoint"});
      if (!list[i]["checkpoint"]) throw core::Error(where + ": missing checkpoint");
      const fs::path path = list[i]["checkpoint"].as<std::string>();
      paths.push_back((path.is_absolute() ? path : dir / path).string());
      if (weights) weights->push_back(list[i]["weight"] ? list[i]["weight"].as<double>() : 1.0);
    }
  };
  if (!a.checkpoints.empty() && a.weights.empty()) a.weights.assign(a.checkpoints.size(), 1.0);
  members("models", a.checkpoints, &a.weights);
  members("classifiers", a.classifiers, nullptr);
  if (blend["gate"]) a.options.gate = blend["gate"].as<double>();
  if (blend["triplet"] && a.triplet.empty()) a.triplet = blend["triplet"].as<std::string>();
}

}  // namespace

void add_predict(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("predict", "Predict pneumothorax masks for DICOM or PNG radiographs");
  auto a = std::make_shared<PredictArgs>();
  cmd->add_option("--checkpoint", a->checkpoints, "segmentation checkpoint(s) from ptx train; several are averaged")
      ->check(CLI::ExistingFile);
  cmd->add_option("--blend", a->blend, "YAML ensemble: models (checkpoint, weight), classifiers, gate, triplet")
      ->check(CLI::ExistingFile);
  cmd->add_option("--weight", a->weights, "one blend weight per --checkpoint (default: equal)");
  cmd->add_option("--classifier", a->classifiers, "classifier checkpoint(s): images they find below --gate are empty")
      ->check(CLI::ExistingFile);
  cmd->add_option("--gate", a->options.gate, "classifier probability below which an image is empty")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--input", a->options.inputs, "DICOM/PNG/JPEG files or folders (recursive)")->required();
  cmd->add_option("--out", a->options.out, "output folder")->required();
  cmd->add_option("--tta", a->tta, "test-time augmentation")->capture_default_str()->check(CLI::IsMember({"none", "hflip"}));
  cmd->add_option("--size", a->size, "model input size (default: the checkpoint's training size)")->check(CLI::PositiveNumber);
  cmd->add_option("--triplet", a->triplet, "top,area,bottom[,min_region] (default: the checkpoint's validated triplet)");
  cmd->add_flag("--save-probabilities", a->options.save_probabilities, "write 16-bit probability maps for ptx thresholds search");
  cmd->add_flag("--dicom-seg", a->options.dicom_seg,
                "for DICOM inputs with a mask: a DICOM Segmentation in the source's study (seg/<ImageId>.dcm)");
  cmd->add_flag("--dicom-sc", a->options.dicom_sc,
                "for DICOM inputs with a mask: a Secondary Capture of the overlay in the source's study (sc/<ImageId>.dcm)");
  cmd->add_option("--device", a->device, "cpu or cuda:N")->capture_default_str();
  cmd->callback([a, &g] {
    if (!a->blend.empty()) read_blend(*a);
    if (a->checkpoints.empty()) throw core::UsageError("give --checkpoint or --blend");
    const torch::Device device = parse_device(a->device);
    const auto segmenter = predict::Ensemble::load(a->checkpoints, a->weights, device, a->size);
    const auto classifier = predict::Ensemble::load(a->classifiers, {}, device, 0);
    if (!classifier.empty() && !classifier.classifier())
      throw core::UsageError("--classifier: every classifier checkpoint must have arch classifier");
    if (!a->triplet.empty()) {
      try {
        a->options.triplet = post::Triplet::parse(a->triplet);
      } catch (const core::Error& e) {
        throw core::UsageError(e.what());
      }
    } else if (segmenter.members().front().has_triplet) {
      a->options.triplet = segmenter.members().front().triplet;
    }
    a->options.hflip = a->tta == "hflip";
    a->options.progress = !g.quiet;
    const auto s = predict::predict_files(segmenter, classifier, a->options);
    if ((a->options.dicom_seg || a->options.dicom_sc) && s.dicom_skipped)
      core::warn(std::to_string(s.dicom_skipped) +
                 " image(s) with a mask are not DICOM: no SEG/SC for them (a PNG or JPEG has no study to join)");
    if (s.dicom_failed) core::warn(std::to_string(s.dicom_failed) + " DICOM output(s) could not be written: see errors.csv");
    if (g.json) {
      std::cout << nlohmann::json{{"out", a->options.out}, {"images", s.images}, {"positive", s.positive},
                                  {"gated", s.gated}, {"failed", s.failed}, {"seconds", s.seconds},
                                  {"triplet", a->options.triplet.str()}, {"dicom_seg", s.dicom_seg},
                                  {"dicom_sc", s.dicom_sc}, {"dicom_skipped", s.dicom_skipped},
                                  {"dicom_failed", s.dicom_failed}}
                       .dump()
                << "\n";
      return;
    }
    if (a->options.dicom_seg || a->options.dicom_sc)
      std::printf("DICOM: %zu SEG, %zu SC written\n", s.dicom_seg, s.dicom_sc);
    std::printf("%zu images in %.1f s (%.2f images/s): %zu with a mask, %zu gated by the classifier, %zu failed%s\n"
                "triplet %s; written: %s/predictions.csv, masks/\n",
                s.images, s.seconds, s.images / std::max(1e-9, s.seconds), s.positive, s.gated, s.failed,
                s.failed ? " (see errors.csv)" : "", a->options.triplet.str().c_str(), a->options.out.c_str());
  });
}

}  // namespace ptx::app

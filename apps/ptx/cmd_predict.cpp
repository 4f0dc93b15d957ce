// ptx predict: masks, probability maps and predictions.csv for radiographs, with flip TTA,
// checkpoint ensembles and a classifier gate.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "model_options.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/memory.h"
#include "ptx/core/tensor_arena.h"
#include "ptx/predict/predict_files.h"

namespace ptx::app {

namespace {
struct PredictArgs {
  ModelArgs models;
  predict::PredictOptions options;
};
}  // namespace

void add_predict(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("predict", "Predict pneumothorax masks for DICOM or PNG radiographs");
  auto a = std::make_shared<PredictArgs>();
  add_model_options(*cmd, a->models);
  cmd->add_option("--input", a->options.inputs, "DICOM/PNG/JPEG files or folders (recursive)")->required();
  cmd->add_option("--out", a->options.out, "output folder")->required();
  cmd->add_flag("--save-probabilities", a->options.save_probabilities, "write 16-bit probability maps for ptx thresholds search");
  cmd->add_flag("--dicom-seg", a->options.dicom_seg,
                "for DICOM inputs with a mask: a DICOM Segmentation in the source's study (seg/<ImageId>.dcm)");
  cmd->add_flag("--dicom-sc", a->options.dicom_sc,
                "for DICOM inputs with a mask: a Secondary Capture of the overlay in the source's study (sc/<ImageId>.dcm)");
  cmd->callback([a, &g] {
    const auto models = load_models(a->models);
    a->options.image = models.image;
    a->options.progress = !g.quiet;
    const auto s = predict::predict_files(models.segmenter, models.classifier, a->options);
    if ((a->options.dicom_seg || a->options.dicom_sc) && s.dicom_skipped)
      core::warn(std::to_string(s.dicom_skipped) +
                 " image(s) with a mask are not DICOM: no SEG/SC for them (a PNG or JPEG has no study to join)");
    if (s.dicom_failed) core::warn(std::to_string(s.dicom_failed) + " DICOM output(s) could not be written: see errors.csv");
    if (g.json) {
      std::cout << nlohmann::json{{"out", a->options.out}, {"images", s.images}, {"positive", s.positive},
                                  {"gated", s.gated}, {"failed", s.failed}, {"seconds", s.seconds},
                                  {"triplet", a->options.image.triplet.str()}, {"dicom_seg", s.dicom_seg},
                                  {"dicom_sc", s.dicom_sc}, {"dicom_skipped", s.dicom_skipped},
                                  {"dicom_failed", s.dicom_failed}, {"peak_rss_mib", core::peak_resident_mib()},
                                  {"tensor_arena_mib", core::tensor_arena_stats().buffer_bytes / 1048576.0}}
                       .dump()
                << "\n";
      return;
    }
    if (a->options.dicom_seg || a->options.dicom_sc)
      std::printf("DICOM: %zu SEG, %zu SC written\n", s.dicom_seg, s.dicom_sc);
    std::printf("%zu images in %.1f s (%.2f images/s): %zu with a mask, %zu gated by the classifier, %zu failed%s\n"
                "triplet %s; written: %s/predictions.csv, masks/\n",
                s.images, s.seconds, s.images / std::max(1e-9, s.seconds), s.positive, s.gated, s.failed,
                s.failed ? " (see errors.csv)" : "", a->options.image.triplet.str().c_str(), a->options.out.c_str());
  });
}

}  // namespace ptx::app

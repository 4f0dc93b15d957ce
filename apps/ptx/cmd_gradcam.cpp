// ptx gradcam: Grad-CAM heat maps of a classifier or segmentation checkpoint blended over
// radiographs, one PNG per input, and gradcam.csv with the explained outputs.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "device.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/progress.h"
#include "ptx/io/csv.h"
#include "ptx/io/image.h"
#include "ptx/predict/gradcam.h"
#include "ptx/predict/radiograph.h"

namespace fs = std::filesystem;

namespace ptx::app {

namespace {
struct GradCamArgs {
  std::string checkpoint, out, device = "cpu";
  std::vector<std::string> inputs;
  int target = 0, size = 0;
  double alpha = 0.6;
  bool save_heat = false;
};

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

void add_gradcam(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("gradcam", "Grad-CAM heat maps of a classifier or segmentation model over radiographs");
  auto a = std::make_shared<GradCamArgs>();
  cmd->add_option("--checkpoint", a->checkpoint, "classifier or segmentation checkpoint from ptx train")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--input", a->inputs, "DICOM/PNG/JPEG files or folders (recursive)")->required();
  cmd->add_option("--out", a->out, "output folder: <ImageId>.png and gradcam.csv")->required();
  cmd->add_option("--class", a->target, "class to explain (0: pneumothorax)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--size", a->size, "model input size (default: the checkpoint's training size)")->check(CLI::PositiveNumber);
  cmd->add_option("--alpha", a->alpha, "opacity of the hottest regions")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--save-heat", a->save_heat, "also write the heat map itself as <ImageId>_heat.png (8-bit grey)");
  cmd->add_option("--device", a->device, "cpu or cuda:N")->capture_default_str();
  cmd->callback([a, &g] {
    const auto files = predict::radiograph_files(a->inputs);
    const auto cam = predict::GradCam::load(a->checkpoint, parse_device(a->device), a->size);
    fs::create_directories(a->out);
    io::CsvWriter csv((fs::path(a->out) / "gradcam.csv").string(), {"ImageId", "probability", "score", "peak_x", "peak_y"});
    core::ProgressBar bar("gradcam", files.size());
    bar.set_enabled(!g.quiet);
    size_t written = 0, failed = 0;
    for (const auto& file : files) {
      bar.tick();
      try {
        const auto radiograph = predict::read_radiograph(file);
        const std::string& id = radiograph.image_id;
        const cv::Mat& gray = radiograph.gray;
        const auto r = cam.explain(gray, a->target);
        io::write_png((fs::path(a->out) / (id + ".png")).string(), predict::blend_heatmap(gray, r.heat, a->alpha));
        if (a->save_heat) {
          cv::Mat h8;
          r.heat.convertTo(h8, CV_8U, 255.0);
          io::write_png((fs::path(a->out) / (id + "_heat.png")).string(), h8);
        }
        cv::Point peak;
        cv::minMaxLoc(r.heat, nullptr, nullptr, nullptr, &peak);
        csv.row({id, format(r.probability), format(r.score), std::to_string(peak.x), std::to_string(peak.y)});
        ++written;
      } catch (const core::Error& e) {
        core::warn(e.what());  // names the file
        ++failed;
      }
    }
    bar.finish();
    csv.commit();
    if (g.json) {
      std::cout << nlohmann::json{{"out", a->out}, {"written", written}, {"failed", failed},
                                  {"model", cam.classifier() ? "classifier" : "segmentation"}}
                       .dump()
                << "\n";
    } else {
      std::printf("%zu heat map(s) written to %s (%s Grad-CAM)%s\n", written, a->out.c_str(),
                  cam.classifier() ? "classifier" : "segmentation encoder", failed ? "; some inputs failed" : "");
    }
    if (failed && !written) throw core::Error("no input could be explained");
  });
}

}  // namespace ptx::app

// ptx overlay: radiographs with the masks of one or more models drawn over them (filled
// translucent regions with contours), side by side under titles, and the truth as a contour.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/strings.h"
#include "ptx/io/image.h"
#include "ptx/io/label_csv.h"
#include "ptx/post/overlay.h"
#include "ptx/predict/radiograph.h"

namespace fs = std::filesystem;

namespace ptx::app {

namespace {
struct OverlayArgs {
  std::vector<std::string> images, mask_dirs, titles;
  std::string truth, out;
  int width = 512;
  double alpha = 0.35;
};

bool ends_with_png(const std::string& path) {
  return core::lower(fs::path(path).extension().string()) == ".png";
}

// The truth of one image: from a label CSV (nullopt when the image has no row) or from a folder of
// mask PNGs (nullopt when it has no file).
class Truth {
 public:
  explicit Truth(const std::string& source) : source_(source) {
    if (source.empty()) return;
    if (fs::is_directory(source)) return;
    if (!fs::is_regular_file(source)) throw core::UsageError("--truth: " + source + " is neither a label CSV nor a folder");
    labels_ = io::read_label_csv(source);
  }
  std::optional<cv::Mat> of(const std::string& image_id, cv::Size size) const {
    if (source_.empty()) return std::nullopt;
    if (labels_) {
      const io::ImageLabels* l = labels_->find(image_id);
      if (!l) return std::nullopt;
      return labels_->mask(*l, size.width, size.height);
    }
    const fs::path p = fs::path(source_) / (image_id + ".png");
    if (!fs::exists(p)) return std::nullopt;
    return io::read_gray_image(p.string());
  }

 private:
  std::string source_;
  std::optional<io::LabelSet> labels_;
};
}  // namespace

void add_overlay(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand(
      "overlay", "Draw predicted masks (one panel per model, side by side) and the truth over radiographs");
  auto a = std::make_shared<OverlayArgs>();
  cmd->add_option("--image", a->images, "DICOM/PNG/JPEG radiographs or folders of them (recursive)")->required();
  cmd->add_option("--mask-dir", a->mask_dirs, "a model's mask folder (<ImageId>.png, as ptx predict writes in masks/); "
                                              "repeat for several models")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--title", a->titles, "one title per --mask-dir (default: the folder's name)");
  cmd->add_option("--truth", a->truth, "ground truth: a label CSV (ImageId, EncodedPixels) or a folder of mask PNGs");
  cmd->add_option("--out", a->out, "a .png file (one image) or a folder (<ImageId>.png for each image)")->required();
  cmd->add_option("--width", a->width, "width of each panel in pixels (0: the image's own)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--alpha", a->alpha, "opacity of the masks' fill")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->callback([a, &g] {
    if (!a->titles.empty() && a->titles.size() != a->mask_dirs.size())
      throw core::UsageError("give one --title per --mask-dir (" + std::to_string(a->mask_dirs.size()) + " folders, " +
                             std::to_string(a->titles.size()) + " titles)");
    std::vector<std::string> titles = a->titles;
    if (titles.empty())
      for (const auto& d : a->mask_dirs) {
        fs::path p(d);
        if (p.filename().empty()) p = p.parent_path();
        // ptx predict's layout <run>/masks: name the run, not "masks".
        titles.push_back(p.filename() == "masks" && p.has_parent_path() ? p.parent_path().filename().string()
                                                                        : p.filename().string());
      }
    const auto files = predict::radiograph_files(a->images);
    const bool single = ends_with_png(a->out);
    if (single && files.size() != 1)
      throw core::UsageError("--out " + a->out + " is one PNG but there are " + std::to_string(files.size()) +
                             " images: give a folder");
    const Truth truth(a->truth);
    post::OverlayStyle style;
    style.fill_alpha = a->alpha;
    size_t written = 0, missing = 0, no_truth = 0;
    for (const auto& file : files) {
      const auto radiograph = predict::read_radiograph(file);
      const std::string& id = radiograph.image_id;
      const cv::Mat& gray = radiograph.gray;
      std::vector<cv::Mat> masks;
      std::vector<std::string> names = titles;
      for (size_t i = 0; i < a->mask_dirs.size(); ++i) {
        const fs::path p = fs::path(a->mask_dirs[i]) / (id + ".png");
        if (fs::exists(p)) {
          masks.push_back(io::read_gray_image(p.string()));
        } else {
          masks.emplace_back();
          names[i] += " (no mask)";
          ++missing;
        }
      }
      const auto t = truth.of(id, gray.size());
      if (!a->truth.empty() && !t) ++no_truth;
      const cv::Mat picture = post::render_comparison(gray, masks, names, t ? *t : cv::Mat(), a->width, style);
      const std::string out = single ? a->out : (fs::path(a->out) / (id + ".png")).string();
      io::write_png(out, picture);
      ++written;
    }
    if (missing) core::warn(std::to_string(missing) + " mask(s) missing: drawn as empty panels marked \"(no mask)\"");
    if (no_truth) core::warn(std::to_string(no_truth) + " image(s) have no truth in " + a->truth);
    if (g.json) {
      std::cout << nlohmann::json{{"out", a->out}, {"written", written}, {"missing_masks", missing}, {"without_truth", no_truth}}.dump()
                << "\n";
      return;
    }
    std::printf("%zu picture(s) written to %s\n", written, a->out.c_str());
  });
}

}  // namespace ptx::app

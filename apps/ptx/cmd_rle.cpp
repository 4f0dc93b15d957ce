// ptx rle encode MASK.png | ptx rle decode: SIIM RLE from and to mask PNGs.
#include <cstdio>
#include <iostream>
#include <memory>
#include <opencv2/imgcodecs.hpp>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/io/image.h"
#include "ptx/io/label_csv.h"
#include "ptx/io/rle.h"

namespace ptx::app {

namespace {
struct RleArgs {
  std::string mask, text, labels, image_id, out, mode = "relative";
  int width = 1024, height = 1024;
};
}  // namespace

void add_rle(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("rle", "Encode a mask PNG as SIIM RLE, or decode RLE to a mask PNG");
  cmd->require_subcommand(1);
  auto a = std::make_shared<RleArgs>();

  auto* enc = cmd->add_subcommand("encode", "Print the RLE of a mask PNG (nonzero pixels are the mask)");
  enc->add_option("mask", a->mask, "mask PNG")->required()->check(CLI::ExistingFile);
  enc->add_option("--rle", a->mode, "RLE form")->capture_default_str()->check(CLI::IsMember({"relative", "absolute"}));
  enc->callback([a, &g] {
    const cv::Mat mask = io::read_gray_image(a->mask);
    const std::string rle = io::rle_encode(mask, io::parse_rle_mode(a->mode));
    if (g.json) std::cout << nlohmann::json{{"rle", rle}, {"width", mask.cols}, {"height", mask.rows}, {"pixels", cv::countNonZero(mask)}}.dump() << "\n";
    else std::cout << rle << "\n";
  });

  auto* dec = cmd->add_subcommand("decode", "Write the mask of an RLE string, or of one ImageId of a label CSV, as a PNG");
  auto* text = dec->add_option("--text", a->text, "the RLE string");
  auto* labels = dec->add_option("--labels", a->labels, "label CSV (several rows of the ImageId are merged)")->check(CLI::ExistingFile);
  text->excludes(labels);
  dec->add_option("--id", a->image_id, "ImageId to decode from --labels")->needs(labels);
  dec->add_option("--out", a->out, "mask PNG to write")->required();
  dec->add_option("--width", a->width, "image width")->capture_default_str()->check(CLI::PositiveNumber);
  dec->add_option("--height", a->height, "image height")->capture_default_str()->check(CLI::PositiveNumber);
  dec->add_option("--rle", a->mode, "RLE form")->capture_default_str()->check(CLI::IsMember({"relative", "absolute"}));
  dec->callback([a, &g] {
    const io::RleMode mode = io::parse_rle_mode(a->mode);
    cv::Mat mask;
    if (!a->labels.empty()) {
      const io::LabelSet set = io::read_label_csv(a->labels, mode);
      const io::ImageLabels* img = set.find(a->image_id);
      if (!img) throw core::Error(core::at(a->labels) + "no row for ImageId '" + a->image_id + "'; check --id");
      mask = set.mask(*img, a->width, a->height);
    } else if (!a->text.empty()) {
      try {
        mask = io::rle_decode_mask(a->text, a->width, a->height, mode);
      } catch (const io::RleError& e) {
        throw core::Error(std::string("--text: ") + e.what());
      }
    } else {
      throw core::UsageError("rle decode: give --text or --labels with --id");
    }
    io::write_png(a->out, mask);
    if (g.json) std::cout << nlohmann::json{{"out", a->out}, {"pixels", cv::countNonZero(mask)}}.dump() << "\n";
  });
}

}  // namespace ptx::app

// ptx convert: DICOMs (or PNG/JPEG radiographs) and labels to a cached PNG set with index and folds.
#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "ptx/data/convert.h"

namespace ptx::app {

void add_convert(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("convert", "Convert a data set once to PNG images, masks, index.csv and folds");
  auto o = std::make_shared<data::ConvertOptions>();
  cmd->add_option("--dicom", o->dicom_dirs, "folder of DICOM files, searched recursively (repeatable)")->check(CLI::ExistingDirectory);
  cmd->add_option("--images", o->image_dirs, "folder of PNG/JPEG radiographs, ImageId = file name stem (repeatable)")->check(CLI::ExistingDirectory);
  cmd->add_option("--labels", o->labels, "label CSV (ImageId,EncodedPixels); omit for a test set")->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--size", o->size, "output size in pixels (square)")->capture_default_str()->check(CLI::Range(16, 8192));
  cmd->add_option("--folds", o->folds, "number of stratified folds")->capture_default_str()->check(CLI::Range(2, 100));
  cmd->add_option("--seed", o->seed, "seed of the fold split")->capture_default_str();
  cmd->callback([o, &g] {
    o->threads = g.threads;
    o->progress = !g.quiet;
    const data::ConvertSummary s = data::convert_dataset(*o);
    if (g.json) {
      std::cout << nlohmann::json{{"images", s.images}, {"written", s.written}, {"skipped_existing", s.skipped_existing},
                                  {"failed", s.failed}, {"positives", s.positives},
                                  {"images_without_labels", s.images_without_labels},
                                  {"labels_without_images", s.labels_without_images}, {"seconds", s.seconds},
                                  {"out", o->out}}.dump() << "\n";
    } else {
      std::printf("converted %zu image(s) (%zu new, %zu already done, %zu failed), %zu positive, in %.1f s -> %s/index.csv\n",
                  s.images - s.failed, s.written, s.skipped_existing, s.failed, s.positives, s.seconds, o->out.c_str());
    }
    if (s.failed) std::fprintf(stderr, "warning: %zu input(s) could not be read; see %s/errors.csv\n", s.failed, o->out.c_str());
  });
}

}  // namespace ptx::app

// ptx synth --out DIR: a synthetic data set of phantom chest radiographs in the challenge's layout.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ptx/data/synth.h"

namespace ptx::app {

void add_synth(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand(
      "synth", "Generate phantom chest radiographs, some with a pneumothorax, as challenge-style DICOMs and RLE labels");
  auto o = std::make_shared<data::SynthOptions>();
  cmd->add_option("--out", o->out, "output folder (gets dicom-images-<split>/ and <split>-rle.csv)")->required();
  cmd->add_option("--count", o->count, "number of images")->capture_default_str();
  cmd->add_option("--size", o->size, "image width and height in pixels (64..4096)")->capture_default_str();
  cmd->add_option("--positive-fraction", o->positive_fraction, "fraction of images with a pneumothorax (0..1)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "random seed: the same seed gives byte-identical files")->capture_default_str();
  cmd->add_option("--split", o->split_name, "split name: dicom-images-<split>/ and <split>-rle.csv")->capture_default_str();
  cmd->callback([o, &g] {
    o->threads = g.threads;
    o->progress = !g.quiet;
    const data::SynthSummary s = data::synthesize_dataset(*o);
    if (g.json) {
      std::cout << nlohmann::json{{"out", o->out},          {"dicom_dir", s.dicom_dir}, {"labels", s.labels_csv},
                                  {"images", s.images},     {"positives", s.positives}, {"negatives", s.negatives},
                                  {"regions", s.regions},   {"size", o->size},          {"seed", o->seed},
                                  {"split", o->split_name}, {"seconds", s.seconds}}
                       .dump()
                << "\n";
    } else {
      std::printf("wrote %zu images (%zu with pneumothorax, %zu regions) to %s and labels to %s in %.1f s\n", s.images,
                  s.positives, s.regions, s.dicom_dir.c_str(), s.labels_csv.c_str(), s.seconds);
    }
  });
}

}  // namespace ptx::app

// ptx bundle: one file that is "the model" (checkpoints, blend, gate, triplet, TTA, card, hashes),
// made with `create` and shown, hashes checked, with `inspect`. predict, serve and node load it
// with --bundle (model_options.h).
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ptx/export/bundle.h"

namespace ptx::app {

namespace {

void print_bundle(const exports::Bundle& b) {
  const auto& m = b.manifest;
  std::printf("%s: ptx bundle version %d, made by ptx %s at %s; every SHA-256 matches\n", b.path.c_str(),
              m["version"].get<int>(), m.value("ptx_version", "?").c_str(), m.value("created", "?").c_str());
  for (const auto& e : m["members"]) {
    const auto& spec = e["spec"];
    const auto& in = e["input"];
    std::printf("  %-10s %-28s weight %g  %s/%s  input %d px, %d channel(s), normalize %s  (from %s)\n      sha256 %s\n",
                e["role"].get<std::string>().c_str(), e["name"].get<std::string>().c_str(), e["weight"].get<double>(),
                spec.value("arch", "?").c_str(), spec.value("encoder", "?").c_str(), in.value("size", 0),
                in.value("channels", 0), in.value("normalize", "?").c_str(), e.value("source", "?").c_str(),
                e["sha256"].get<std::string>().c_str());
  }
  std::printf("triplet %s, tta %s", b.triplet.empty() ? "(none)" : b.triplet.c_str(), b.tta.c_str());
  if (b.gate) std::printf(", gate %g", *b.gate);
  std::printf("\n\nmodel card (%s):\n%s", m["card"].value("name", "card.yaml").c_str(), b.card.c_str());
}

}  // namespace

void add_bundle(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("bundle", "Model bundles: checkpoints, blend, gate, triplet, TTA and a model card in one file");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Write a bundle (.ptxb) of checkpoints and their settings");
  auto in = std::make_shared<exports::BundleInput>();
  auto out = std::make_shared<std::string>();
  create->add_option("--checkpoint", in->segmenters, "segmentation checkpoint(s) from ptx train")
      ->required()
      ->check(CLI::ExistingFile);
  create->add_option("--weight", in->weights, "one blend weight per --checkpoint (default: equal)");
  create->add_option("--classifier", in->classifiers, "classifier checkpoint(s) that gate the segmentation")
      ->check(CLI::ExistingFile);
  create->add_option("--gate", in->gate, "classifier probability below which an image is empty")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  create->add_option("--triplet", in->triplet, "top,area,bottom[,min_region] (default: the first checkpoint's)");
  create->add_option("--tta", in->tta, "test-time augmentation")->capture_default_str()->check(CLI::IsMember({"none", "hflip"}));
  create->add_option("--card", in->card_path, "YAML model card (default: a card to fill in: research use only)")
      ->check(CLI::ExistingFile);
  create->add_option("--out", *out, "the bundle to write (.ptxb)")->required();
  create->callback([in, out, &g] {
    const auto manifest = exports::create_bundle(*in, *out);
    if (g.json)
      std::cout << nlohmann::json{{"out", *out}, {"manifest", manifest}}.dump() << "\n";
    else
      std::printf("wrote %s: %zu member(s), triplet %s, tta %s\n", out->c_str(), manifest["members"].size(),
                  manifest["triplet"].is_null() ? "(none)" : manifest["triplet"].get<std::string>().c_str(),
                  in->tta.c_str());
  });

  auto* inspect = cmd->add_subcommand("inspect", "Print a bundle's manifest and model card, checking every SHA-256");
  auto path = std::make_shared<std::string>();
  inspect->add_option("bundle", *path, "the .ptxb file")->required();
  inspect->callback([path, &g] {
    const auto b = exports::read_bundle(*path);
    if (g.json)
      std::cout << nlohmann::json{{"bundle", b.path}, {"manifest", b.manifest}, {"card", b.card}}.dump() << "\n";
    else
      print_bundle(b);
  });
}

}  // namespace ptx::app

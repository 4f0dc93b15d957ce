#include "model_options.h"

#include <filesystem>

#include "device.h"
#include "ptx/core/error.h"
#include "ptx/train/config_file.h"

namespace fs = std::filesystem;

namespace ptx::app {

namespace {

// A blend file, as the first-place solution described its ensembles:
//   models: [{checkpoint: a.ckpt, weight: 0.6}, {checkpoint: b.ckpt, weight: 0.4}]
//   classifiers: [{checkpoint: c.ckpt}]    # optional
//   gate: 0.6                              # optional
//   triplet: 0.75,2000,0.4                 # optional
// Relative paths resolve against the blend file's folder. Adds to the command line's lists.
void read_blend(ModelArgs& a) {
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
  if (blend["gate"]) a.gate = blend["gate"].as<double>();
  if (blend["triplet"] && a.triplet.empty()) a.triplet = blend["triplet"].as<std::string>();
}

// Fills what the command line left open from a bundle (explicit options win) and extracts its
// checkpoints; every member's hash is checked before anything is loaded.
std::shared_ptr<const exports::ExtractedBundle> read_bundle(ModelArgs& a) {
  const exports::Bundle bundle = exports::read_bundle(a.bundle);
  auto files = std::make_shared<const exports::ExtractedBundle>(bundle);
  a.checkpoints = files->paths("segmenter");
  if (a.weights.empty())
    for (const auto& m : bundle.members)
      if (m.role == "segmenter") a.weights.push_back(m.weight);
  if (a.classifiers.empty()) a.classifiers = files->paths("classifier");
  if (bundle.gate && !a.gate_option->count()) a.gate = *bundle.gate;
  if (a.triplet.empty()) a.triplet = bundle.triplet;
  if (!a.tta_option->count()) a.tta = bundle.tta;
  return files;
}

}  // namespace

void add_model_options(CLI::App& cmd, ModelArgs& a) {
  cmd.add_option("--checkpoint", a.checkpoints, "segmentation checkpoint(s) from ptx train; several are averaged")
      ->check(CLI::ExistingFile);
  cmd.add_option("--blend", a.blend, "YAML ensemble: models (checkpoint, weight), classifiers, gate, triplet")
      ->check(CLI::ExistingFile);
  // Not ExistingFile: a missing bundle is a runtime error naming the path (exit 1), like a bad one.
  cmd.add_option("--bundle", a.bundle, "model bundle from ptx bundle create: checkpoints, weights, classifier, gate, "
                                       "triplet and TTA in one file (the options given here win)")
      ->excludes("--checkpoint")
      ->excludes("--blend");
  cmd.add_option("--weight", a.weights, "one blend weight per --checkpoint (default: equal)");
  cmd.add_option("--classifier", a.classifiers, "classifier checkpoint(s): images they find below --gate are empty")
      ->check(CLI::ExistingFile);
  a.gate_option = cmd.add_option("--gate", a.gate, "classifier probability below which an image is empty")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  a.tta_option = cmd.add_option("--tta", a.tta, "test-time augmentation")->capture_default_str()->check(CLI::IsMember({"none", "hflip"}));
  cmd.add_option("--size", a.size, "model input size (default: the checkpoint's training size)")->check(CLI::PositiveNumber);
  cmd.add_option("--triplet", a.triplet, "top,area,bottom[,min_region] (default: the checkpoint's validated triplet)");
  cmd.add_option("--device", a.device, "cpu or cuda:N")->capture_default_str();
  cmd.add_option("--precision", a.precision, "inference arithmetic: bf16 is several times faster on CPUs with AMX or "
                                             "AVX-512-BF16 and on GPUs; masks agree with fp32 at Dice 0.999 on the demo model")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

LoadedModels load_models(ModelArgs& a) {
  if (!a.blend.empty()) read_blend(a);
  std::shared_ptr<const exports::ExtractedBundle> bundle;
  if (!a.bundle.empty()) bundle = read_bundle(a);
  if (a.checkpoints.empty()) throw core::UsageError("give --checkpoint, --blend or --bundle");
  const torch::Device device = parse_device(a.device);
  const auto precision = predict::parse_precision(a.precision);
  LoadedModels m{predict::Ensemble::load(a.checkpoints, a.weights, device, a.size, precision),
                 predict::Ensemble::load(a.classifiers, {}, device, 0, precision), {}, std::move(bundle)};
  if (!m.classifier.empty() && !m.classifier.classifier())
    throw core::UsageError("--classifier: every classifier checkpoint must have arch classifier");
  if (!a.triplet.empty()) {
    try {
      m.image.triplet = post::Triplet::parse(a.triplet);
    } catch (const core::Error& e) {
      throw core::UsageError(e.what());
    }
  } else if (m.segmenter.members().front().has_triplet) {
    m.image.triplet = m.segmenter.members().front().triplet;
  }
  m.image.hflip = a.tta == "hflip";
  m.image.gate = a.gate;
  return m;
}

}  // namespace ptx::app

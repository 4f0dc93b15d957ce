// ptx weights inspect FILE | ptx weights convert IN OUT --spec SPEC: look into weight files
// (torch.save .pth/.pt, .safetensors, ptx checkpoints) and turn them into ptx checkpoints.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "command.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/safetensors.h"
#include "ptx/models/state_dict_import.h"
#include "ptx/models/weight_file.h"

namespace ptx::app {

namespace {

struct WeightsArgs {
  std::string file, in, out, spec, format;
  bool non_strict = false;
};

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string dtype_of(const torch::Tensor& t) { return c10::toString(t.scalar_type()); }

nlohmann::json spec_json_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return text;
  }
}

// --spec: JSON text (starting with '{') or a file holding it.
models::ModelSpec spec_argument(const std::string& arg) {
  if (!arg.empty() && arg.front() == '{') {
    try {
      return models::parse_spec(arg, "--spec");
    } catch (const core::Error& e) {
      throw core::UsageError(e.what());
    }
  }
  return models::parse_spec(core::read_file(arg), arg);
}

void inspect(const WeightsArgs& a, const Globals& g) {
  const auto w = models::read_weights(a.file);
  const int64_t params = models::parameter_count(w.tensors);
  if (g.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& [name, t] : w.tensors)
      tensors.push_back({{"name", name}, {"dtype", dtype_of(t)}, {"shape", t.sizes().vec()}});
    nlohmann::json j{{"file", a.file},
                     {"format", w.format},
                     {"location", w.location},
                     {"tensors", tensors},
                     {"count", w.tensors.size()},
                     {"parameters", params},
                     {"spec", spec_json_or_null(w.spec_json)},
                     {"train_state", w.has_train_state},
                     {"metadata", w.metadata}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("%s: %s%s\n", a.file.c_str(), w.format.c_str(),
              w.location.empty() ? "" : (", state_dict under '" + w.location + "'").c_str());
  if (!w.spec_json.empty()) std::printf("spec: %s\n", w.spec_json.c_str());
  std::size_t width = 4;
  for (const auto& kv : w.tensors) width = std::max(width, kv.first.size());
  for (const auto& [name, t] : w.tensors)
    std::printf("  %-*s  %-9s %s\n", static_cast<int>(width), name.c_str(), dtype_of(t).c_str(), shape_of(t).c_str());
  std::printf("%zu tensors, %lld parameters%s\n", w.tensors.size(), static_cast<long long>(params),
              w.has_train_state ? ", with a training state" : "");
}

void convert(const WeightsArgs& a, const Globals& g) {
  const auto w = models::read_weights(a.in);
  models::ModelSpec spec;
  if (!a.spec.empty()) spec = spec_argument(a.spec);
  else if (!w.spec_json.empty()) spec = models::parse_spec(w.spec_json, a.in);
  else throw core::UsageError("weights convert: " + a.in + " has no model spec; give --spec JSON|FILE");
  const std::string format =
      !a.format.empty() ? a.format : models::has_safetensors_extension(a.out) ? "safetensors" : "ptx";
  auto model = models::build_model(spec);
  models::ImportOptions options;
  options.strict = !a.non_strict;
  models::ImportReport report;
  try {
    report = models::import_weights(*model, spec, w.tensors, options);
  } catch (const core::Error& e) {
    std::string msg = e.what();
    const std::string hint = "(load non-strictly to take what matches)";
    if (const auto at = msg.find(hint); at != std::string::npos) msg.replace(at, hint.size(), "(--non-strict loads what matches)");
    throw core::Error(a.in + ": " + msg);
  }
  const auto checkpoint = models::make_checkpoint(*model, spec);
  if (format == "safetensors") models::export_safetensors(a.out, checkpoint);
  else models::save_checkpoint(a.out, checkpoint);
  if (g.json) {
    std::cout << nlohmann::json{{"in", a.in},
                                {"out", a.out},
                                {"format", format},
                                {"spec", spec},
                                {"mapping", report.mapping},
                                {"stripped_prefix", report.stripped_prefix},
                                {"loaded", report.load.loaded},
                                {"missing", report.load.missing},
                                {"unexpected", report.load.unexpected},
                                {"mismatched", report.load.mismatched},
                                {"dropped", report.dropped},
                                {"adapted", report.adapted}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("%s -> %s (%s): %s\n", a.in.c_str(), a.out.c_str(), format.c_str(), report.describe().c_str());
  }
}

}  // namespace

void add_weights(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("weights", "Inspect weight files and convert them into ptx checkpoints");
  cmd->require_subcommand(1);
  auto a = std::make_shared<WeightsArgs>();

  auto* ins = cmd->add_subcommand(
      "inspect", "List the tensors (name, dtype, shape), the parameter count and the model spec of a weight file "
                 "(.pth/.pt from torch.save, .safetensors, ptx checkpoint)");
  ins->add_option("file", a->file, "weight file")->required()->check(CLI::ExistingFile);
  ins->callback([a, &g] { inspect(*a, g); });

  auto* conv = cmd->add_subcommand(
      "convert", "Build the model of --spec, import IN's weights into it (DataParallel 'module.' prefixes, "
                 "ImageNet classifier weights into a segmentation encoder, 1-channel stems) and save a ptx "
                 "checkpoint or .safetensors");
  conv->add_option("in", a->in, "weight file to import")->required()->check(CLI::ExistingFile);
  conv->add_option("out", a->out, "checkpoint to write (.safetensors: safetensors, else a ptx checkpoint)")->required();
  conv->add_option("--spec", a->spec,
                   "model spec: JSON text such as '{\"arch\":\"unet\",\"encoder\":\"resnet34\",\"in_channels\":1}' "
                   "or a file holding it (default: IN's own spec, if it has one)");
  conv->add_flag("--non-strict", a->non_strict, "load what matches and report the rest instead of failing");
  conv->add_option("--format", a->format, "output format (default: by OUT's extension)")
      ->check(CLI::IsMember({"ptx", "safetensors"}));
  conv->callback([a, &g] { convert(*a, g); });
}

}  // namespace ptx::app

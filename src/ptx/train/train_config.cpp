#include "ptx/train/train_config.h"

#include <filesystem>
#include <functional>

#include "ptx/core/error.h"
#include "ptx/data/augment.h"
#include "ptx/data/sampler.h"
#include "ptx/train/config_file.h"
#include "ptx/train/losses.h"
#include "ptx/train/optimizers.h"
#include "ptx/train/schedulers.h"

namespace fs = std::filesystem;

namespace ptx::train {

namespace {

std::string key_path(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

template <typename T>
T read(const YAML::Node& node, const std::string& key, const T& fallback, const std::string& where, const char* type) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) return fallback;
  try {
    if (!v.IsScalar()) throw YAML::Exception(YAML::Mark(), "");
    return v.as<T>();
  } catch (const YAML::Exception&) {
    throw core::Error(key_path(where, key) + ": expected " + type + ", got " + YAML::Dump(v));
  }
}

int read_int(const YAML::Node& n, const std::string& k, int fallback, const std::string& where, int min) {
  const int v = read<int>(n, k, fallback, where, "an integer");
  if (v < min) throw core::Error(key_path(where, k) + ": must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  return v;
}

std::string resolve(const std::string& path, const std::string& dir) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

std::vector<double> axis(const YAML::Node& node, const std::string& key, const std::vector<double>& fallback,
                         const std::string& where) {
  const YAML::Node v = node[key];
  if (!v) return fallback;
  if (v.IsSequence()) {
    std::vector<double> out;
    for (const auto& x : v) out.push_back(x.as<double>());
    return out;
  }
  return eval::TripletGrid::parse_values(v.as<std::string>(), key_path(where, key));
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (!node || node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    auto out = nlohmann::json::array();
    for (const auto& x : node) out.push_back(yaml_to_json(x));
    return out;
  }
  if (node.IsMap()) {
    auto out = nlohmann::json::object();
    for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return out;
  }
  const std::string s = node.Scalar();
  if (node.Tag() != "!" && node.Tag() != "tag:yaml.org,2002:str") {  // unquoted: typed as it reads
    if (s == "true" || s == "false") return s == "true";
    try {
      size_t used = 0;
      const long long i = std::stoll(s, &used);
      if (used == s.size()) return i;
    } catch (const std::logic_error&) {
    }
    try {
      size_t used = 0;
      const double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::logic_error&) {
    }
  }
  return s;
}

TrainConfig parse_train_config(const YAML::Node& node, const std::string& config_dir, const std::string& where) {
  check_keys(node, where,
             {"data", "model", "pretrained", "sampler", "augment", "loss", "optimizer", "scheduler", "epochs",
              "batch_size", "accumulate", "clip_grad_norm", "early_stopping", "top_k", "validation", "swa",
              "snapshots", "aux_weight", "output", "seed", "minutes", "freeze_batch_norm", "precision"});
  TrainConfig c;
  const std::string data_where = key_path(where, "data");
  const YAML::Node data = node["data"];
  if (!data) throw core::Error(data_where + ": missing: give at least data.index (the index.csv of ptx convert)");
  check_keys(data, data_where, {"index", "fold", "size", "channels", "normalize", "labels", "workers", "limit"});
  c.data.index = resolve(read<std::string>(data, "index", "", data_where, "a path"), config_dir);
  if (c.data.index.empty()) throw core::Error(data_where + ".index: missing: the index.csv written by ptx convert");
  c.data.fold = read_int(data, "fold", 0, data_where, -1);
  c.data.size = read_int(data, "size", 256, data_where, 32);
  if (c.data.size % 32) throw core::Error(data_where + ".size: must be a multiple of 32, got " + std::to_string(c.data.size));
  c.data.channels = read_int(data, "channels", 3, data_where, 1);
  if (c.data.channels != 1 && c.data.channels != 3) throw core::Error(data_where + ".channels: must be 1 or 3");
  c.data.normalize = read<std::string>(data, "normalize", "imagenet", data_where, "none or imagenet");
  if (c.data.normalize != "none" && c.data.normalize != "imagenet")
    throw core::Error(data_where + ".normalize: must be none or imagenet, got " + c.data.normalize);
  c.data.labels = resolve(read<std::string>(data, "labels", "", data_where, "a path"), config_dir);
  c.data.workers = read_int(data, "workers", 2, data_where, 0);
  c.data.limit = read_int(data, "limit", 0, data_where, 0);

  try {
    c.model = node["model"] ? yaml_to_json(node["model"]).get<models::ModelSpec>() : models::ModelSpec{};
  } catch (const core::Error& e) {
    throw core::Error(key_path(where, "model") + ": " + e.what());
  }
  if (!node["model"] || !node["model"]["in_channels"]) c.model.in_channels = c.data.channels;
  if (c.model.in_channels != c.data.channels)
    throw core::Error(key_path(where, "model.in_channels") + ": " + std::to_string(c.model.in_channels) +
                      " differs from data.channels " + std::to_string(c.data.channels));
  c.pretrained = resolve(read<std::string>(node, "pretrained", "", where, "a path"), config_dir);
  // (Assigning a missing key's node would throw: yaml-cpp's undefined nodes cannot be copied.)
  if (node["sampler"]) c.sampler = node["sampler"];
  if (node["augment"]) c.augment = node["augment"];
  c.loss = node["loss"] ? yaml_to_json(node["loss"])
                        : (c.classifier() ? nlohmann::json{{"type", "bce"}}
                                          : nlohmann::json{{"type", "combo"}, {"weights", {{"bce", 1}, {"dice", 1}}}});
  c.optimizer = node["optimizer"] ? yaml_to_json(node["optimizer"]) : nlohmann::json{{"type", "adam"}, {"lr", 1e-4}};
  c.scheduler = node["scheduler"] ? yaml_to_json(node["scheduler"]) : nlohmann::json{{"type", "constant"}};
  c.epochs = read_int(node, "epochs", 10, where, 1);
  c.batch_size = read_int(node, "batch_size", 4, where, 1);
  c.accumulate = read_int(node, "accumulate", 1, where, 1);
  c.clip_grad_norm = read<double>(node, "clip_grad_norm", 0.0, where, "a number");
  if (c.clip_grad_norm < 0) throw core::Error(key_path(where, "clip_grad_norm") + ": must be >= 0");
  if (const YAML::Node es = node["early_stopping"]) {
    check_keys(es, key_path(where, "early_stopping"), {"patience"});
    c.patience = read_int(es, "patience", 0, key_path(where, "early_stopping"), 0);
  }
  c.top_k = read_int(node, "top_k", 3, where, 1);
  if (const YAML::Node v = node["validation"]) {
    const std::string vw = key_path(where, "validation");
    check_keys(v, vw, {"triplets", "on_train"});
    c.validate_on_train = read<bool>(v, "on_train", false, vw, "true or false");
    if (const YAML::Node t = v["triplets"]) {
      const std::string tw = key_path(vw, "triplets");
      check_keys(t, tw, {"top", "area", "bottom", "min_region"});
      c.triplets.top = axis(t, "top", c.triplets.top, tw);
      c.triplets.bottom = axis(t, "bottom", c.triplets.bottom, tw);
      const auto to_counts = [](const std::vector<double>& v) {
        std::vector<int64_t> out;
        for (double x : v) out.push_back(static_cast<int64_t>(x));
        return out;
      };
      c.triplets.area = to_counts(axis(t, "area", {0}, tw));
      c.triplets.min_region = to_counts(axis(t, "min_region", {0}, tw));
      try {
        c.triplets.validate();
      } catch (const core::Error& e) {
        throw core::Error(tw + ": " + e.what());
      }
    }
  }
  if (const YAML::Node s = node["swa"]) {
    const std::string sw = key_path(where, "swa");
    check_keys(s, sw, {"start_epoch", "every"});
    c.swa_start = read_int(s, "start_epoch", 0, sw, 0);
    c.swa_every = read_int(s, "every", 1, sw, 1);
  }
  c.snapshots = read<bool>(node, "snapshots", false, where, "true or false");
  c.aux_weight = read<double>(node, "aux_weight", 0.4, where, "a number");
  c.freeze_batch_norm = read<bool>(node, "freeze_batch_norm", false, where, "true or false");
  c.output = resolve(read<std::string>(node, "output", "runs/train", where, "a path"), config_dir);
  c.seed = read<uint64_t>(node, "seed", 42, where, "an integer");
  c.minutes = read<double>(node, "minutes", 0.0, where, "a number");
  if (c.minutes < 0) throw core::Error(key_path(where, "minutes") + ": must be >= 0");
  c.precision = read<std::string>(node, "precision", "fp32", where, "fp32 or bf16");
  if (c.precision != "fp32" && c.precision != "bf16")
    throw core::Error(key_path(where, "precision") + ": must be fp32 or bf16, got " + c.precision);

  // The sections other parts of ptx read: built once here, so a bad key stops the run before
  // any data is loaded (and before an earlier part has trained for hours).
  const auto checked = [&](const char* key, const std::function<void()>& build) {
    try {
      build();
    } catch (const core::Error& e) {
      const std::string message = e.what();
      if (message.rfind(key, 0) == 0)  // already names its key path
        throw core::Error(where.empty() ? message : where + "." + message);
      throw core::Error(key_path(where, key) + ": " + message);
    }
  };
  checked("sampler", [&] { data::sampler_options_from_yaml(c.sampler, "sampler"); });
  checked("augment", [&] { data::Pipeline::from_yaml(c.augment, "augment", c.seed); });
  checked("loss", [&] { make_loss(c.loss); });
  checked("optimizer", [&] { c.optimizer.get<OptimizerConfig>(); });
  checked("scheduler", [&] { make_scheduler(c.scheduler, c.optimizer.get<OptimizerConfig>().lr); });
  return c;
}

}  // namespace ptx::train

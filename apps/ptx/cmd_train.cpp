// ptx train CONFIG.yaml: training from a YAML configuration, chained parts in turn.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "device.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/train/config_file.h"
#include "ptx/train/trainer.h"

namespace fs = std::filesystem;

namespace ptx::app {

namespace {
struct TrainArgs {
  std::string config, device = "cpu";
  std::vector<std::string> overrides;
  bool resume = false;
};
}  // namespace

void add_train(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("train", "Train a model from a YAML configuration (see configs/ and the README)");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("config", a->config, "training configuration (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", a->overrides, "override a key (in every part) before checking: --set epochs=1 --set optimizer.lr=1e-5");
  cmd->add_flag("--resume", a->resume, "continue an interrupted run from its last.ckpt (finished parts are skipped)");
  cmd->add_option("--device", a->device, "cpu or cuda:N")->capture_default_str();
  cmd->callback([a, &g] {
    const YAML::Node config = train::load_config_file(a->config);
    // --set applies to every part, after the parts are merged: the command line wins.
    auto runs = train::expand_parts(config);
    for (auto& run : runs) train::apply_overrides(run, a->overrides);
    const std::string dir = fs::path(a->config).parent_path().string();
    // Every part is checked before the first one starts.
    std::vector<train::TrainConfig> parts;
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::string where = runs.size() > 1 ? "parts[" + std::to_string(i) + "]" : "";
      parts.push_back(train::parse_train_config(runs[i], dir.empty() ? "." : dir, where));
      if (runs.size() > 1 && !config["parts"][i]["output"])  // a part without its own output: a subfolder
        parts.back().output = (fs::path(parts.back().output) / ("part" + std::to_string(i))).string();
    }
    train::TrainOptions options;
    options.device = parse_device(a->device);
    options.progress = !g.quiet;
    nlohmann::json results = nlohmann::json::array();
    for (size_t i = 0; i < parts.size(); ++i) {
      const fs::path done = fs::path(parts[i].output) / "done.json";
      if (a->resume && fs::exists(done)) {
        results.push_back(nlohmann::json::parse(core::read_file(done)));
        options.init_checkpoint = results.back().value("best_checkpoint", "");
        core::info("part " + std::to_string(i) + " already finished: " + parts[i].output);
        continue;
      }
      options.resume = a->resume && fs::exists(fs::path(parts[i].output) / "last.ckpt");
      if (parts.size() > 1) core::info("part " + std::to_string(i) + " of " + std::to_string(parts.size()));
      const auto r = train::train_model(parts[i], options);
      const nlohmann::json summary{{"output", parts[i].output},           {"best_epoch", r.best_epoch},
                                   {"best_score", r.best_score},           {"best_triplet", r.best_triplet.str()},
                                   {"best_checkpoint", r.best_checkpoint}, {"epochs", r.history.size()},
                                   {"stop_reason", r.stop_reason}};
      core::write_file_atomic(done, summary.dump(2) + "\n");
      results.push_back(summary);
      options.init_checkpoint = r.best_checkpoint;  // the next part starts from this part's best
    }
    if (g.json) {
      std::cout << nlohmann::json{{"parts", results}}.dump() << "\n";
      return;
    }
    for (const auto& r : results)
      std::printf("%s: best score %.4f at epoch %d (triplet %s), %s\n", r["output"].get<std::string>().c_str(),
                  r["best_score"].get<double>(), r["best_epoch"].get<int>(), r["best_triplet"].get<std::string>().c_str(),
                  r["best_checkpoint"].get<std::string>().c_str());
  });
}

}  // namespace ptx::app

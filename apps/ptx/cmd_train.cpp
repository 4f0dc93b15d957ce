// ptx train CONFIG.yaml: training from a YAML configuration, chained parts in turn.
#include <chrono>
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
  bool distributed = false;
  double dist_timeout = 1800;  // seconds
};
}  // namespace

void add_train(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("train", "Train a model from a YAML configuration (see configs/ and the README)");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("config", a->config, "training configuration (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", a->overrides, "override a key (in every part) before checking: --set epochs=1 --set optimizer.lr=1e-5");
  cmd->add_flag("--resume", a->resume, "continue an interrupted run from its last.ckpt (finished parts are skipped)");
  cmd->add_option("--device", a->device, "cpu or cuda:N")->capture_default_str();
  cmd->add_flag("--distributed", a->distributed,
                "data-parallel training: one process per rank, started with RANK, WORLD_SIZE, MASTER_ADDR and "
                "MASTER_PORT set (as torchrun does); batch_size is per process, rank 0 writes the output");
  cmd->add_option("--dist-timeout", a->dist_timeout,
                  "--distributed: seconds to wait for the other ranks (connecting, and at every exchange: rank 0's "
                  "validation included)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
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
    std::unique_ptr<train::DistributedContext> dist;
    if (a->distributed) {
      const auto env = train::distributed_env();
      dist = train::DistributedContext::connect(
          env, options.device, std::chrono::milliseconds(int64_t(a->dist_timeout * 1000)));
      if (!dist->is_main()) {  // rank 0 speaks for all
        core::set_quiet(true);
        options.progress = false;
      }
      core::info("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + " connected through " +
                 env.master_addr + ":" + std::to_string(env.master_port));
      options.distributed = dist.get();
    }
    const bool is_main = !dist || dist->is_main();
    nlohmann::json results = nlohmann::json::array();
    for (size_t i = 0; i < parts.size(); ++i) {
      const fs::path done = fs::path(parts[i].output) / "done.json";
      // Rank 0's folder decides (the other ranks may not see it).
      bool finished = a->resume && is_main && fs::exists(done);
      bool resume = a->resume && is_main && fs::exists(fs::path(parts[i].output) / "last.ckpt");
      if (dist) {
        finished = dist->broadcast_flag(finished);
        resume = dist->broadcast_flag(resume);
      }
      if (finished) {
        if (is_main) {
          results.push_back(nlohmann::json::parse(core::read_file(done)));
          options.init_checkpoint = results.back().value("best_checkpoint", "");
        }
        core::info("part " + std::to_string(i) + " already finished: " + parts[i].output);
        continue;
      }
      options.resume = resume;
      if (parts.size() > 1) core::info("part " + std::to_string(i) + " of " + std::to_string(parts.size()));
      const auto r = train::train_model(parts[i], options);
      const nlohmann::json summary{{"output", parts[i].output},           {"best_epoch", r.best_epoch},
                                   {"best_score", r.best_score},           {"best_triplet", r.best_triplet.str()},
                                   {"best_checkpoint", r.best_checkpoint}, {"epochs", r.history.size()},
                                   {"stop_reason", r.stop_reason}};
      if (is_main) core::write_file_atomic(done, summary.dump(2) + "\n");
      results.push_back(summary);
      options.init_checkpoint = r.best_checkpoint;  // the next part starts from this part's best
    }
    if (!is_main) return;  // rank 0 reports
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

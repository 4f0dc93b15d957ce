// ptx demo: the whole story on synthetic data in one command (src/ptx/demo/demo.h).
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "device.h"
#include "ptx/core/threads.h"
#include "ptx/demo/demo.h"

namespace ptx::app {

namespace {
struct DemoArgs {
  demo::DemoOptions options;
  std::string device = "cpu";
  bool no_extra = false;
};
}  // namespace

void add_demo(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand(
      "demo", "Synthesise a data set, train, search thresholds, predict, evaluate and write report.html, in one go");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--out", a->options.out, "output folder")->capture_default_str();
  cmd->add_option("--minutes", a->options.minutes, "time budget for everything (training gets what the rest leaves)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 10000.0));
  cmd->add_option("--seed", a->options.seed, "seed of the data and the training")->capture_default_str();
  cmd->add_option("--count", a->options.train_images, "synthetic training radiographs")->capture_default_str()->check(CLI::Range(20, 100000));
  cmd->add_option("--test-count", a->options.test_images, "synthetic test radiographs")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--image-size", a->options.size, "side of the synthetic radiographs in pixels")->capture_default_str()->check(CLI::Range(64, 1024));
  cmd->add_option("--set", a->options.overrides, "override a key of the training configuration (configs/demo.yaml), e.g. --set epochs=4");
  cmd->add_option("--extra", a->options.extra,
                  "folders of real DICOMs to predict too (default: ../shared/data/siim-sample when present)")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--no-extra", a->no_extra, "predict no real radiographs");
  cmd->add_option("--device", a->device, "cpu or cuda:N")->capture_default_str();
  cmd->callback([a, &g] {
    auto o = a->options;
    o.device = parse_device(a->device);
    o.threads = g.threads > 0 ? g.threads : core::hardware_threads();
    o.progress = !g.quiet;
    if (a->no_extra) o.extra.clear();
    else if (o.extra.empty() && !demo::default_extra_folder().empty()) o.extra = {demo::default_extra_folder()};
    const auto r = demo::run_demo(o);
    if (g.json) {
      std::cout << nlohmann::json{{"report", r.report}, {"submission", r.submission}, {"test_dice", r.test_dice},
                                  {"validation_dice", r.validation_dice}, {"triplet", r.triplet}, {"seconds", r.seconds}}
                       .dump()
                << "\n";
      return;
    }
    std::printf("test Dice %.4f (validation %.4f, triplet %s) in %.0f s\nreport: %s\n", r.test_dice, r.validation_dice,
                r.triplet.c_str(), r.seconds, r.report.c_str());
  });
}

}  // namespace ptx::app

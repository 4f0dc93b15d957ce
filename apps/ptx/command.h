// How subcommands plug into the ptx executable: each cmd_<name>.cpp defines one add_<name>()
// that registers its CLI11 subcommand and a callback doing the work.
#pragma once
#include <CLI/CLI.hpp>

namespace ptx::app {

// Options every command shares, filled in before any subcommand callback runs.
struct Globals {
  int threads = 0;     // 0 = all cores
  bool json = false;   // one JSON object on stdout instead of human text
  bool quiet = false;  // no info messages and no progress bars
};

void add_info(CLI::App& root, const Globals& g);
void add_convert(CLI::App& root, const Globals& g);
void add_evaluate(CLI::App& root, const Globals& g);
void add_synth(CLI::App& root, const Globals& g);
void add_rle(CLI::App& root, const Globals& g);
void add_models(CLI::App& root, const Globals& g);
void add_thresholds(CLI::App& root, const Globals& g);
void add_submit(CLI::App& root, const Globals& g);
void add_weights(CLI::App& root, const Globals& g);
void add_predict(CLI::App& root, const Globals& g);
void add_train(CLI::App& root, const Globals& g);
void add_overlay(CLI::App& root, const Globals& g);
void add_gradcam(CLI::App& root, const Globals& g);
void add_serve(CLI::App& root, const Globals& g);
void add_node(CLI::App& root, const Globals& g);
void add_bundle(CLI::App& root, const Globals& g);
void add_demo(CLI::App& root, const Globals& g);

}  // namespace ptx::app

// ptx: pneumothorax detection and segmentation for chest X-rays.
// Exit codes: 0 success, 1 runtime error, 2 usage error.
#include <cstdio>
#include <exception>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/memory.h"
#include "ptx/core/threads.h"
#include "ptx/version.h"

int main(int argc, char** argv) {
  using namespace ptx;
  core::reuse_freed_memory();  // before the first large allocation (see core/memory.h)
  CLI::App root{"ptx: pneumothorax detection and segmentation for chest X-rays", "ptx"};
  root.require_subcommand(1);
  root.fallthrough();  // inherited by subcommands: `ptx convert ... --json` works like `ptx --json convert ...`
  root.set_version_flag("--version", std::string("ptx ") + kVersion);
  app::Globals g;
  root.add_option("--threads", g.threads, "threads for LibTorch, OpenMP and OpenCV (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  root.add_flag("--json", g.json, "print results as one JSON object on stdout");
  root.add_flag("-q,--quiet", g.quiet, "no progress bars or info messages");
  // Global settings apply before any subcommand's callback runs.
  root.parse_complete_callback([&] {
    core::set_quiet(g.quiet);
    core::set_thread_count(g.threads > 0 ? g.threads : core::hardware_threads());
  });

  app::add_info(root, g);
  app::add_convert(root, g);
  app::add_evaluate(root, g);
  app::add_synth(root, g);
  app::add_rle(root, g);
  app::add_models(root, g);
  app::add_thresholds(root, g);
  app::add_submit(root, g);
  app::add_weights(root, g);
  app::add_train(root, g);
  app::add_predict(root, g);
  app::add_overlay(root, g);
  app::add_gradcam(root, g);
  app::add_serve(root, g);
  app::add_node(root, g);
  app::add_bundle(root, g);
  app::add_demo(root, g);

  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    root.exit(e);
    return 2;
  } catch (const core::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// ptx serve: the web page and HTTP API (src/ptx/serve/server.h) around loaded models.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "command.h"
#include "model_options.h"
#include "stop_signals.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/serve/server.h"

namespace ptx::app {

namespace {

struct ServeArgs {
  ModelArgs models;
  serve::ServeOptions options;
  double max_upload_mb = 64;
};

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

void add_serve(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("serve", "Serve a web page and an HTTP API that find pneumothorax in uploaded radiographs");
  auto a = std::make_shared<ServeArgs>();
  add_model_options(*cmd, a->models);
  cmd->add_option("--host", a->options.host, "address to listen on (loopback by default: put a TLS proxy in front for others)")
      ->capture_default_str();
  cmd->add_option("--port", a->options.port, "port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--workers", a->options.workers, "inferences at once")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--queue", a->options.max_waiting, "uploads that may wait for a worker; beyond, 503")->capture_default_str();
  cmd->add_option("--max-upload-mb", a->max_upload_mb, "largest upload in MiB; beyond, 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--spool", a->options.spool,
                  "the spool folder of a `ptx node`: its finished results join the page's worklist");
  cmd->callback([a, &g] {
    auto models = load_models(a->models);
    a->options.image = models.image;
    a->options.checkpoints = a->models.checkpoints;
    a->options.classifiers = a->models.classifiers;
    a->options.max_upload_bytes = std::size_t(a->max_upload_mb * 1024 * 1024);
    if (!is_loopback(a->options.host))
      core::warn("listening on " + a->options.host + ": anyone who reaches this address can upload images; "
                 "there is no authentication or TLS");
    // The node may start later and create it: a warning, so a mistyped folder does not go unseen.
    if (!a->options.spool.empty() && !std::filesystem::is_directory(a->options.spool))
      core::warn("no spool folder " + a->options.spool + " yet: the worklist shows the node's results once it writes them");
    serve::Server server(std::move(models.segmenter), std::move(models.classifier), a->options);
    const int port = server.bind();
    stop_on_signals([&server] { server.stop(); });
    // The address on stdout (scripts read it), unless --quiet.
    if (!g.quiet) std::printf("ptx serve: http://%s:%d/ (Ctrl-C stops)\n", a->options.host.c_str(), port);
    std::fflush(stdout);
    server.run();
  });
}

}  // namespace ptx::app

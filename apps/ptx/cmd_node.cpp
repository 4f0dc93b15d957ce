// ptx node: a DICOM node beside a PACS (src/ptx/dicomnet/node.h) around loaded models.
#include <cstdio>
#include <memory>

#include "command.h"
#include "model_options.h"
#include "stop_signals.h"
#include "ptx/core/error.h"
#include "ptx/dicomnet/node.h"

namespace ptx::app {

namespace {

struct NodeArgs {
  ModelArgs models;
  dicomnet::NodeOptions options;
  std::vector<std::string> destinations, stow;
  double retry_delay = 2, min_free_mb = 256;
};

}  // namespace

void add_node(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand(
      "node", "Run a DICOM node: receive radiographs by C-STORE, find pneumothorax, send the SEG back (C-STORE or STOW-RS)");
  auto a = std::make_shared<NodeArgs>();
  auto& o = a->options;
  add_model_options(*cmd, a->models);
  cmd->add_option("--aet", o.scp.aet, "the node's AE title (senders must call it)")
      ->capture_default_str()
      ->check([](const std::string& v) { return v.empty() || v.size() > 16 ? "an AE title has 1 to 16 characters" : ""; });
  cmd->add_option("--port", o.scp.port, "DICOM port to listen on (every interface)")->capture_default_str()->check(CLI::Range(1, 65535));
  cmd->add_option("--spool", o.spool, "folder of received instances and results (one node per spool)")->required();
  cmd->add_option("--destination", a->destinations, "send results by C-STORE to AET@HOST:PORT (repeatable)");
  cmd->add_option("--stow", a->stow, "send results by STOW-RS to this URL, e.g. http://pacs:8042/dicom-web/studies (repeatable)");
  cmd->add_option("--accept-aet", o.scp.accepted_aets, "calling AE titles let in (repeatable; default: any)");
  cmd->add_option("--study-timeout", o.study_timeout_seconds, "seconds without a new instance before a study is processed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_flag("--sc", o.process.sc, "also send a Secondary Capture of each positive image (mask burned in)");
  cmd->add_flag("--report-negatives", o.process.report_negatives,
                "send a Secondary Capture saying 'no pneumothorax found' for each negative image");
  cmd->add_option("--retries", o.retry.attempts, "attempts per destination for a peer that is down or busy")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--retry-delay", a->retry_delay, "seconds before the first retry; doubled each time, at most 60")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--timeout", o.scp.timeout_seconds, "network timeout in seconds (associations, DIMSE, HTTP)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--min-free-mb", a->min_free_mb, "refuse C-STOREs (status A700) when the spool's disk has less free")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->callback([a, &g] {
    auto& o = a->options;
    for (const auto& d : a->destinations) o.destinations.push_back(dicomnet::parse_dicom_peer(d));
    for (const auto& s : a->stow) o.stow.push_back(dicomnet::parse_stow_url(s));
    o.retry.first_delay = std::chrono::milliseconds(static_cast<long long>(a->retry_delay * 1000));
    o.send_timeout_seconds = o.scp.timeout_seconds;
    o.min_free_bytes = static_cast<std::uintmax_t>(a->min_free_mb * 1024 * 1024);
    o.json = g.json;
    o.quiet = g.quiet;
    auto models = load_models(a->models);
    o.process.image = models.image;
    dicomnet::Node node({std::move(models.segmenter), std::move(models.classifier)}, o);
    node.start();
    stop_on_signals([&node] { node.stop(); });
    if (!g.quiet && !g.json)
      std::printf("ptx node: %s listening on port %d, spool %s (Ctrl-C stops)\n", o.scp.aet.c_str(), o.scp.port, o.spool.c_str());
    std::fflush(stdout);
    node.run();
  });
}

}  // namespace ptx::app

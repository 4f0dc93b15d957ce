// ptx submit: the challenge's submission CSV from saved probability maps and a triplet.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ptx/core/error.h"
#include "ptx/post/submission.h"

namespace ptx::app {

void add_submit(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("submit", "Write the challenge's submission CSV from probability maps and a triplet");
  auto o = std::make_shared<post::SubmissionOptions>();
  auto triplet = std::make_shared<std::string>();
  cmd->add_option("--predictions", o->probabilities,
                  "folder of <ImageId>.png probability maps (ptx predict's probabilities/ folder)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--triplet", *triplet, "top,area,bottom[,min_region], e.g. from ptx thresholds search's best.json")
      ->required();
  cmd->add_option("--out", o->out, "submission CSV to write")->required();
  cmd->add_option("--sample-submission", o->sample_submission,
                  "the challenge's sample submission: exactly its ImageIds, in its order")
      ->check(CLI::ExistingFile);
  cmd->callback([o, triplet, &g] {
    try {
      o->triplet = post::Triplet::parse(*triplet);
    } catch (const core::Error& e) {
      throw core::UsageError(e.what());  // a bad option value
    }
    o->threads = g.threads;
    o->progress = !g.quiet;
    const auto s = post::write_submission(*o);
    if (g.json)
      std::cout << nlohmann::json{{"out", o->out}, {"images", s.images}, {"positive", s.positive}, {"seconds", s.seconds}}.dump()
                << "\n";
    else
      std::printf("%s: %zu images, %zu with a mask (triplet %s)\n", o->out.c_str(), s.images, s.positive,
                  o->triplet.str().c_str());
  });
}

}  // namespace ptx::app

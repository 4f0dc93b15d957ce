// ptx models list: every architecture x encoder the registry builds, with parameters and GMACs.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command.h"
#include "ptx/core/progress.h"
#include "ptx/models/catalog.h"

namespace ptx::app {

namespace {

// 24436369 -> "24,436,369"
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_table(const std::vector<models::CatalogEntry>& entries, int64_t size) {
  std::printf("%-16s %-22s %14s", "arch", "encoder", "parameters");
  if (size > 0) std::printf(" %12s", ("GMAC@" + std::to_string(size)).c_str());
  std::printf("\n");
  for (const auto& e : entries) {
    std::printf("%-16s %-22s %14s", e.spec.arch.c_str(), e.spec.encoder.c_str(), with_commas(e.parameters).c_str());
    if (size > 0) std::printf(" %12.2f", e.macs / 1e9);
    std::printf("\n");
  }
}

}  // namespace

void add_models(CLI::App& root, const Globals& g) {
  auto* cmd = root.add_subcommand("models", "The model zoo: architectures, encoders, their size and compute");
  cmd->require_subcommand(1);
  auto o = std::make_shared<models::CatalogOptions>();

  auto* list = cmd->add_subcommand(
      "list", "Every architecture x encoder ptx builds, with its parameter count and GMACs (one forward pass, "
              "counted from the convolutions and linear layers it runs)");
  list->add_option("--size", o->size, "input side for the GMACs; 0 skips the forward passes")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  list->add_option("--in-channels", o->in_channels, "input channels")->capture_default_str()->check(CLI::PositiveNumber);
  list->add_option("--classes", o->classes, "output classes (1000 gives the torchvision classifiers' published counts)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  list->add_option("--arch", o->arch, "only this architecture");
  list->add_option("--encoder", o->encoder, "only this encoder");
  list->callback([o, &g] {
    std::unique_ptr<core::ProgressBar> bar;
    const auto entries = models::model_catalog(*o, [&](size_t done, size_t total) {
      if (g.quiet) return;
      if (!bar) bar = std::make_unique<core::ProgressBar>("models", total);
      bar->tick();
      if (done == total) bar->finish();
    });
    if (!g.json) return print_table(entries, o->size);
    auto out = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json j = e.spec;
      j["parameters"] = e.parameters;
      if (o->size > 0) j["gmacs"] = e.macs / 1e9;
      out.push_back(j);
    }
    std::cout << nlohmann::json{{"size", o->size}, {"classes", o->classes}, {"models", out}}.dump() << "\n";
  });
}

}  // namespace ptx::app

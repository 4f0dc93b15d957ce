// Every model the registry can build, with its size and compute: what `ptx models list` prints
// and what the README's model table is made from.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ptx/models/registry.h"

namespace ptx::models {

struct CatalogEntry {
  ModelSpec spec;
  int64_t parameters = 0;
  int64_t macs = 0;  // of one forward pass on a 1 x in_channels x size x size input; 0 when not measured
};

struct CatalogOptions {
  int64_t size = 256;      // input side for the MACs; 0 skips the forward pass
  int64_t in_channels = 3;
  int64_t classes = 1;     // 1000 reproduces the torchvision classifiers' published counts
  std::string arch;        // only this architecture ("" = all)
  std::string encoder;     // only this encoder ("" = all)
};

// Every (arch, encoder) pair of arch_names() x encoders_for_arch(arch), other spec fields at
// their defaults, in that order. Each model is built once, measured and freed; `progress` is
// called after each with (done, total).
std::vector<CatalogEntry> model_catalog(const CatalogOptions& options,
                                        const std::function<void(size_t, size_t)>& progress = {});

}  // namespace ptx::models

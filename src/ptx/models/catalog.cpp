#include "ptx/models/catalog.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/models/complexity.h"

namespace ptx::models {

std::vector<CatalogEntry> model_catalog(const CatalogOptions& options,
                                        const std::function<void(size_t, size_t)>& progress) {
  std::vector<std::string> archs = arch_names(), encoders = encoder_names();
  encoders.push_back("none");
  const auto keep = [](std::vector<std::string>& names, const std::string& only, const char* what,
                       const std::vector<std::string>& valid) {
    if (only.empty()) return;
    if (std::find(names.begin(), names.end(), only) == names.end()) {
      std::string list;
      for (const auto& n : valid) list += (list.empty() ? "" : ", ") + n;
      throw core::Error(std::string("unknown ") + what + " '" + only + "': valid values are " + list);
    }
    names = {only};
  };
  keep(archs, options.arch, "arch", arch_names());
  keep(encoders, options.encoder, "encoder", encoders);

  std::vector<CatalogEntry> out;
  const size_t total = archs.size() * encoders.size();
  size_t done = 0;
  for (const auto& arch : archs) {
    for (const auto& encoder : encoders) {
      ModelSpec spec;
      spec.arch = arch;
      spec.encoder = encoder;
      spec.in_channels = options.in_channels;
      spec.classes = options.classes;
      ModelPtr model;
      try {
        model = build_model(spec);
      } catch (const core::Error&) {
        // Not a combination the registry builds (for example a standalone architecture with an
        // encoder): not listed. Bad options were rejected above.
      }
      if (model) {
        CatalogEntry e{spec, count_parameters(*model), 0};
        if (options.size > 0) {
          model->eval();
          e.macs = count_macs([&](const torch::Tensor& x) { return model->forward(x); },
                              {1, options.in_channels, options.size, options.size});
        }
        out.push_back(std::move(e));
      }
      if (progress) progress(++done, total);
    }
  }
  return out;
}

}  // namespace ptx::models

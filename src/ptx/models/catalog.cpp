#include "ptx/models/catalog.h"

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/models/complexity.h"

namespace ptx::models {

std::vector<CatalogEntry> model_catalog(const CatalogOptions& options,
                                        const std::function<void(size_t, size_t)>& progress) {
  std::vector<std::string> archs = arch_names();
  if (!options.arch.empty()) {
    if (std::find(archs.begin(), archs.end(), options.arch) == archs.end())
      throw core::Error("unknown arch '" + options.arch + "': valid values are " + core::join(archs));
    archs = {options.arch};
  }
  std::vector<ModelSpec> specs;
  std::vector<std::string> every_encoder;
  for (const auto& arch : archs) {
    for (const auto& encoder : encoders_for_arch(arch)) {
      if (std::find(every_encoder.begin(), every_encoder.end(), encoder) == every_encoder.end())
        every_encoder.push_back(encoder);
      if (!options.encoder.empty() && encoder != options.encoder) continue;
      ModelSpec spec;
      spec.arch = arch;
      spec.encoder = encoder;
      spec.in_channels = options.in_channels;
      spec.classes = options.classes;
      specs.push_back(spec);
    }
  }
  if (!options.encoder.empty() && specs.empty())
    throw core::Error("unknown encoder '" + options.encoder + "': valid values are " + core::join(every_encoder));

  std::vector<CatalogEntry> out;
  for (const auto& spec : specs) {
    // Built one at a time and freed: VGG16's classifier alone is 0.5 GiB.
    const ModelPtr model = build_model(spec);
    CatalogEntry e{spec, count_parameters(*model), 0};
    if (options.size > 0) {
      model->eval();
      e.macs = count_macs([&](const torch::Tensor& x) { return model->forward(x); },
                          {1, options.in_channels, options.size, options.size});
    }
    out.push_back(std::move(e));
    if (progress) progress(out.size(), specs.size());
  }
  return out;
}

}  // namespace ptx::models

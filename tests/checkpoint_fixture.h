// Checkpoints with fixed weights for the tests of the commands that run models (predict, serve).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ptx/models/checkpoint.h"
#include "ptx/models/registry.h"
#include "test_support.h"

namespace ptx::test {

// A checkpoint of `spec` with its weights as built (seeded), input size 64, grey, no normalisation.
// bias, when given, is written into the last layer's bias (a segmentation head or classifier).
inline std::string write_checkpoint(const TempDir& dir, const std::string& name, models::ModelSpec spec,
                                    std::optional<float> bias = {}) {
  torch::manual_seed(1);
  auto model = models::build_model(spec);
  if (bias) {
    torch::NoGradGuard g;
    for (auto& p : model->named_parameters())
      if (p.key() == "segmentation_head.0.bias" || p.key() == "fc.bias") p.value().fill_(*bias);
  }
  const nlohmann::json meta{{"input", {{"size", 64}, {"channels", 1}, {"normalize", "none"}}}, {"triplet", "0.5,0,0.5"}};
  const std::string path = dir / name;
  models::save_checkpoint(path, models::make_checkpoint(*model, spec, models::TrainState{{}, meta.dump()}));
  return path;
}

inline models::ModelSpec small_unet() {
  models::ModelSpec s;
  s.arch = "unet";
  s.encoder = "resnet18";
  s.in_channels = 1;
  s.decoder_channels = {32, 16, 16, 8, 8};
  return s;
}

}  // namespace ptx::test

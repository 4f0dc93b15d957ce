// Models by name: a spec (architecture, encoder, channels, classes) in, a module out. The tables
// of valid names live in registry.cpp; every unknown name or bad value is a ptx::core::Error that
// lists the valid choices.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ptx/models/encoders/encoder.h"
#include "ptx/models/model.h"

namespace ptx::models {

struct ModelSpec {
  std::string arch = "unet";         // see arch_names(): "unet", "classifier"
  std::string encoder = "resnet34";  // see encoder_names()
  int64_t in_channels = 3;
  int64_t classes = 1;
  int64_t encoder_depth = 5;
  // Empty: the architecture's default (U-Net: 256,128,64,32,16, its first encoder_depth entries).
  // A U-Net needs encoder_depth entries; a classifier takes none.
  std::vector<int64_t> decoder_channels;
  // Attention inside the decoder blocks: "none" or "scse" (concurrent spatial and channel
  // squeeze-and-excitation, as the first-place SE-ResNeXt50 U-Net used).
  std::string attention = "none";
  // Dropout before the last linear layer of a classifier or of the auxiliary head (0..1).
  double dropout = 0.0;
  // Segmentation models: an auxiliary classification head on the deepest encoder features
  // (global average pooling, dropout, linear to `classes`), returned by forward_all().
  bool aux_head = false;
};

// What an encoder factory is given. num_classes > 0 adds the encoder's classifier head (then depth
// must be 5); dropout applies before that head's last linear layer.
struct EncoderArgs {
  int64_t in_channels = 3;
  int64_t depth = 5;
  int64_t num_classes = 0;
  double dropout = 0.0;
};
using EncoderFactory = std::function<EncoderPtr(const EncoderArgs&)>;

// JSON form: {"arch": "unet", "encoder": "resnet34", "in_channels": 3, "classes": 1,
// "encoder_depth": 5, "decoder_channels": [256, 128, 64, 32, 16], "attention": "none",
// "dropout": 0.0, "aux_head": false}; to_json writes every field,
// from_json fills absent keys with the defaults above and rejects unknown keys and wrong types
// with a ptx::core::Error listing the valid keys. (nlohmann's ADL hooks: json j = spec;
// j.get<ModelSpec>().) Names are checked by build_model, not here.
void to_json(nlohmann::json& j, const ModelSpec& spec);
void from_json(const nlohmann::json& j, ModelSpec& spec);

struct EncoderEntry {
  std::string name;
  std::vector<int64_t> out_channels;  // of features() at depth 5, without the input's
  EncoderFactory make;
};

// The encoder table, in listing order.
const std::vector<EncoderEntry>& encoder_table();
std::vector<std::string> encoder_names();
std::vector<std::string> arch_names();

// A segmentation encoder (no classifier weights) of the given depth (1..5).
EncoderPtr build_encoder(const std::string& name, int64_t in_channels = 3, int64_t depth = 5);

// "unet": UNet(encoder, ...), forward -> N x classes x H x W logits.
// "classifier": the encoder's own classifier (torchvision's network and names), forward ->
// N x classes logits.
ModelPtr build_model(const ModelSpec& spec);

}  // namespace ptx::models

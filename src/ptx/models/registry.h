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
  // See arch_names(): "unet", "classifier", "unetplusplus", "attention_unet", "fcdensenet".
  std::string arch = "unet";
  // See encoder_names(). Besides those: "none" for arch attention_unet (its own double-conv
  // encoder, decoders/attention_unet.h); "fcdensenet57", "fcdensenet67", "fcdensenet103" for arch
  // fcdensenet (the Tiramisu, decoders/fcdensenet.h) and classifier (its down path + bottleneck,
  // global average pooling, dropout, linear).
  std::string encoder = "resnet34";
  int64_t in_channels = 3;
  int64_t classes = 1;
  int64_t encoder_depth = 5;  // fcdensenet: 5; standalone attention_unet: its levels, 2..5
  // Empty: the architecture's default: U-Net and Attention U-Net 256,128,64,32,16 (its first
  // encoder_depth entries); U-Net++ its last encoder_depth entries (segmentation_models' rule);
  // standalone Attention U-Net 1024,512,256,128,64 (the first encoder_depth filters 64, 128, ...,
  // deepest first). Otherwise encoder_depth entries. A classifier and an FC-DenseNet take none.
  std::vector<int64_t> decoder_channels;
  // Attention inside the decoder blocks: "none" or "scse" (concurrent spatial and channel
  // squeeze-and-excitation, as the first-place SE-ResNeXt50 U-Net used): unet, unetplusplus and
  // attention_unet (besides its gates); a classifier and an FC-DenseNet take none.
  std::string attention = "none";
  // Dropout before the last linear layer of a classifier or of the auxiliary head (0..1); a
  // segmentation model without aux_head takes 0.
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
// The encoder names an architecture accepts (the registry's encoders, plus "none" for the
// standalone Attention U-Net and the FC-DenseNet names for fcdensenet and classifier). Throws
// ptx::core::Error listing the valid archs for an unknown one.
std::vector<std::string> encoders_for_arch(const std::string& arch);

// A segmentation encoder (no classifier weights) of the given depth (1..5).
EncoderPtr build_encoder(const std::string& name, int64_t in_channels = 3, int64_t depth = 5);

// "unet": UNet (decoders/unet.h), "unetplusplus": UNetPlusPlus, "attention_unet":
// AttentionUNet, "fcdensenet": FCDenseNet; forward -> N x classes x H x W logits, forward_all
// adds the auxiliary logits with aux_head.
// "classifier": the encoder's own classifier (torchvision's network and names), or an
// FC-DenseNet's down path with a classification head; forward -> N x classes logits.
// Any other combination (an unknown name, scse on an FC-DenseNet, aux_head on a classifier,
// dropout without a head to apply it to, ...) throws ptx::core::Error naming the valid choices.
ModelPtr build_model(const ModelSpec& spec);

}  // namespace ptx::models

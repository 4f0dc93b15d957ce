#include "ptx/models/registry.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/models/decoders/attention_unet.h"
#include "ptx/models/decoders/fcdensenet.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/decoders/unetplusplus.h"
#include "ptx/models/encoders/densenet.h"
#include "ptx/models/encoders/efficientnet.h"
#include "ptx/models/encoders/resnet.h"
#include "ptx/models/encoders/senet.h"
#include "ptx/models/encoders/vgg.h"

namespace ptx::models {

namespace {

// Every encoder family's options have the same fields. keep_default_dropout: the family's own
// classifier dropout stays unless the spec asks for one (EfficientNet's 0.2 .. 0.4, VGG's 0.5).
template <typename Options, typename Impl>
EncoderFactory family(const std::string& name, bool keep_default_dropout = false) {
  return [name, keep_default_dropout](const EncoderArgs& args) -> EncoderPtr {
    auto o = Options::named(name);
    o.in_channels = args.in_channels;
    o.depth = args.depth;
    o.num_classes = args.num_classes;
    if (!keep_default_dropout || args.dropout > 0.0) o.dropout = args.dropout;
    return std::make_shared<Impl>(o);
  };
}
EncoderFactory resnet(const std::string& name) { return family<ResNetOptions, ResNetImpl>(name); }
EncoderFactory senet(const std::string& name) { return family<SENetOptions, SENetImpl>(name); }
EncoderFactory densenet(const std::string& name) { return family<DenseNetOptions, DenseNetImpl>(name); }
EncoderFactory efficientnet(const std::string& name) { return family<EfficientNetOptions, EfficientNetImpl>(name, true); }
EncoderFactory vgg(const std::string& name) { return family<VGGOptions, VGGImpl>(name, true); }

const EncoderEntry& find_encoder(const std::string& name) {
  for (const auto& e : encoder_table())
    if (e.name == name) return e;
  throw core::Error("unknown encoder '" + name + "': valid encoders are " + core::join(encoder_names()));
}

void check_positive(const char* what, int64_t v) {
  if (v < 1) throw core::Error(std::string("model spec: ") + what + " must be >= 1, got " + std::to_string(v));
}

void check_depth(int64_t depth) {
  if (depth < 1 || depth > 5)
    throw core::Error("model spec: encoder_depth must be one of 1, 2, 3, 4, 5, got " + std::to_string(depth));
}

const std::vector<std::string> kSpecKeys{"arch",          "encoder",          "in_channels", "classes",
                                         "encoder_depth", "decoder_channels", "attention",   "dropout",
                                         "aux_head"};

void check_arch(const std::string& arch) {
  const auto archs = arch_names();
  if (std::find(archs.begin(), archs.end(), arch) == archs.end())
    throw core::Error("unknown arch '" + arch + "': valid archs are " + core::join(archs));
}

// The encoder of a spec whose arch takes registry encoders; the error lists what this arch takes.
const EncoderEntry& find_encoder_for(const ModelSpec& spec) {
  for (const auto& e : encoder_table())
    if (e.name == spec.encoder) return e;
  const auto valid = encoders_for_arch(spec.arch);
  std::string note;
  if (FCDenseNetOptions::is_name(spec.encoder))
    note = " (FC-DenseNets are built by arch fcdensenet or classifier)";
  if (spec.encoder == "none") note = " ('none', a standalone encoder, is for arch attention_unet)";
  throw core::Error("unknown encoder '" + spec.encoder + "' for arch " + spec.arch + note + ": valid encoders are " +
                    core::join(valid));
}

std::vector<int64_t> decoder_channels_or_default(const ModelSpec& spec) {
  if (!spec.decoder_channels.empty()) return spec.decoder_channels;
  if (spec.arch == "unetplusplus") return default_unetplusplus_decoder_channels(spec.encoder_depth);
  if (spec.arch == "attention_unet" && spec.encoder == "none") {
    const auto& f = default_attention_unet_filters();
    return {f.rend() - spec.encoder_depth, f.rend()};  // the first encoder_depth filters, deepest first
  }
  const auto& d = default_unet_decoder_channels();
  return {d.begin(), d.begin() + spec.encoder_depth};
}

ModelPtr build_fcdensenet(const ModelSpec& spec) {
  if (!FCDenseNetOptions::is_name(spec.encoder))
    throw core::Error("arch " + spec.arch + " takes an FC-DenseNet encoder, not '" + spec.encoder +
                      "': valid encoders are " + core::join(FCDenseNetOptions::names()));
  if (spec.encoder_depth != 5)
    throw core::Error("model spec: an FC-DenseNet has 5 dense blocks: encoder_depth must be 5, got " +
                      std::to_string(spec.encoder_depth));
  if (!spec.decoder_channels.empty())
    throw core::Error("model spec: an FC-DenseNet's widths follow from its growth rate: remove decoder_channels");
  if (spec.attention != "none")
    throw core::Error("model spec: attention '" + spec.attention +
                      "' is not available for an FC-DenseNet: valid values are none");
  auto o = FCDenseNetOptions::named(spec.encoder);
  o.in_channels = spec.in_channels;
  o.classes = spec.classes;
  o.classifier = spec.arch == "classifier";
  o.aux_head = spec.aux_head;
  o.dropout = spec.dropout;
  return std::make_shared<FCDenseNetImpl>(o);
}

}  // namespace

void to_json(nlohmann::json& j, const ModelSpec& spec) {
  j = nlohmann::json{{"arch", spec.arch},
                     {"encoder", spec.encoder},
                     {"in_channels", spec.in_channels},
                     {"classes", spec.classes},
                     {"encoder_depth", spec.encoder_depth},
                     {"decoder_channels", spec.decoder_channels},
                     {"attention", spec.attention},
                     {"dropout", spec.dropout},
                     {"aux_head", spec.aux_head}};
}

void from_json(const nlohmann::json& j, ModelSpec& spec) {
  if (!j.is_object()) throw core::Error("model spec: expected an object with keys " + core::join(kSpecKeys));
  ModelSpec out;
  for (const auto& [key, value] : j.items()) {
    const auto wrong = [&](const char* type) {
      return core::Error("model spec: '" + key + "' must be " + type + ", got " + value.dump());
    };
    if (key == "arch" || key == "encoder" || key == "attention") {
      if (!value.is_string()) throw wrong("a string");
      (key == "arch" ? out.arch : key == "encoder" ? out.encoder : out.attention) = value.get<std::string>();
    } else if (key == "dropout") {
      if (!value.is_number()) throw wrong("a number");
      out.dropout = value.get<double>();
    } else if (key == "aux_head") {
      if (!value.is_boolean()) throw wrong("true or false");
      out.aux_head = value.get<bool>();
    } else if (key == "in_channels" || key == "classes" || key == "encoder_depth") {
      if (!value.is_number_integer()) throw wrong("an integer");
      (key == "in_channels" ? out.in_channels : key == "classes" ? out.classes : out.encoder_depth) =
          value.get<int64_t>();
    } else if (key == "decoder_channels") {
      if (!value.is_array()) throw wrong("a list of integers");
      out.decoder_channels.clear();
      for (const auto& c : value) {
        if (!c.is_number_integer()) throw wrong("a list of integers");
        out.decoder_channels.push_back(c.get<int64_t>());
      }
    } else {
      throw core::Error("model spec: unknown key '" + key + "': valid keys are " + core::join(kSpecKeys));
    }
  }
  spec = std::move(out);
}

const std::vector<EncoderEntry>& encoder_table() {
  static const std::vector<EncoderEntry> table{
      {"resnet18", {64, 64, 128, 256, 512}, resnet("resnet18")},
      {"resnet34", {64, 64, 128, 256, 512}, resnet("resnet34")},
      {"resnet50", {64, 256, 512, 1024, 2048}, resnet("resnet50")},
      {"resnet101", {64, 256, 512, 1024, 2048}, resnet("resnet101")},
      {"efficientnet_b0", {32, 24, 40, 112, 320}, efficientnet("efficientnet_b0")},
      {"efficientnet_b1", {32, 24, 40, 112, 320}, efficientnet("efficientnet_b1")},
      {"efficientnet_b2", {32, 24, 48, 120, 352}, efficientnet("efficientnet_b2")},
      {"efficientnet_b3", {40, 32, 48, 136, 384}, efficientnet("efficientnet_b3")},
      {"efficientnet_b4", {48, 32, 56, 160, 448}, efficientnet("efficientnet_b4")},
      {"se_resnext50_32x4d", {64, 256, 512, 1024, 2048}, senet("se_resnext50_32x4d")},
      {"se_resnext101_32x4d", {64, 256, 512, 1024, 2048}, senet("se_resnext101_32x4d")},
      {"densenet121", {64, 256, 512, 1024, 1024}, densenet("densenet121")},
      {"densenet169", {64, 256, 512, 1280, 1664}, densenet("densenet169")},
      // VGG's map 0 is not the input but its first stage (64 channels, full resolution): see vgg.h.
      {"vgg16", {128, 256, 512, 512, 512}, vgg("vgg16")},
      {"vgg16_bn", {128, 256, 512, 512, 512}, vgg("vgg16_bn")},
  };
  return table;
}

std::vector<std::string> encoders_for_arch(const std::string& arch) {
  check_arch(arch);
  if (arch == "fcdensenet") return FCDenseNetOptions::names();
  auto names = encoder_names();
  if (arch == "attention_unet") names.push_back("none");
  if (arch == "classifier")
    for (const auto& n : FCDenseNetOptions::names()) names.push_back(n);
  return names;
}

std::vector<std::string> encoder_names() {
  std::vector<std::string> v;
  for (const auto& e : encoder_table()) v.push_back(e.name);
  return v;
}

std::vector<std::string> arch_names() {
  return {"unet", "classifier", "unetplusplus", "attention_unet", "fcdensenet"};
}

EncoderPtr build_encoder(const std::string& name, int64_t in_channels, int64_t depth) {
  const auto& entry = find_encoder(name);
  check_positive("in_channels", in_channels);
  check_depth(depth);
  return entry.make(EncoderArgs{in_channels, depth, /*num_classes=*/0, /*dropout=*/0.0});
}

ModelPtr build_model(const ModelSpec& spec) {
  check_arch(spec.arch);
  check_positive("in_channels", spec.in_channels);
  check_positive("classes", spec.classes);
  check_depth(spec.encoder_depth);
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0))
    throw core::Error("model spec: dropout must be in [0, 1), got " + std::to_string(spec.dropout));
  const auto& attentions = decoder_attention_names();
  if (std::find(attentions.begin(), attentions.end(), spec.attention) == attentions.end())
    throw core::Error("model spec: unknown attention '" + spec.attention + "': valid values are " + core::join(attentions));
  if (spec.arch == "classifier") {
    if (spec.aux_head) throw core::Error("model spec: a classifier has no auxiliary head: remove aux_head");
    if (spec.attention != "none")
      throw core::Error("model spec: a classifier has no decoder attention: valid values are none");
  } else if (spec.dropout > 0.0 && !spec.aux_head) {
    throw core::Error("model spec: dropout applies before the auxiliary head's linear layer: set aux_head "
                      "true, or dropout 0");
  }
  if (spec.arch == "fcdensenet" || (spec.arch == "classifier" && FCDenseNetOptions::is_name(spec.encoder)))
    return build_fcdensenet(spec);

  SegmentationOptions options;
  options.classes = spec.classes;
  options.attention = spec.attention;
  options.aux_head = spec.aux_head;
  options.dropout = spec.dropout;
  if (spec.arch == "attention_unet" && spec.encoder == "none") {
    if (spec.encoder_depth < 2)
      throw core::Error("model spec: a standalone Attention U-Net needs encoder_depth 2 to 5, got " +
                        std::to_string(spec.encoder_depth));
    auto channels = decoder_channels_or_default(spec);
    if (static_cast<int64_t>(channels.size()) != spec.encoder_depth)
      throw core::Error("model spec: a standalone Attention U-Net of encoder_depth " +
                        std::to_string(spec.encoder_depth) + " needs as many decoder_channels (its filters, "
                        "deepest first), got " + std::to_string(channels.size()));
    const std::vector<int64_t> filters(channels.rbegin(), channels.rend());
    return std::make_shared<AttentionUNetImpl>(spec.in_channels, filters, options);
  }

  const auto& entry = find_encoder_for(spec);
  if (spec.arch == "classifier") {
    if (spec.encoder_depth != 5)
      throw core::Error("model spec: a classifier needs encoder_depth 5, got " + std::to_string(spec.encoder_depth));
    if (!spec.decoder_channels.empty())
      throw core::Error("model spec: a classifier has no decoder: remove decoder_channels");
    return entry.make(EncoderArgs{spec.in_channels, 5, spec.classes, spec.dropout});
  }
  auto channels = decoder_channels_or_default(spec);
  auto encoder = entry.make(EncoderArgs{spec.in_channels, spec.encoder_depth, 0, 0.0});
  if (spec.arch == "unet") return std::make_shared<UNetImpl>(std::move(encoder), std::move(channels), options);
  if (spec.arch == "unetplusplus")
    return std::make_shared<UNetPlusPlusImpl>(std::move(encoder), std::move(channels), options);
  return std::make_shared<AttentionUNetImpl>(std::move(encoder), std::move(channels), options);
}

}  // namespace ptx::models

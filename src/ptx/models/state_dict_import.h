// Weights from other programs into a ptx model, by naming rules rather than per-layer tables.
//
// ptx modules use the names of the networks they port: torchvision's for ResNet, DenseNet, VGG
// and EfficientNet, Cadene's pretrainedmodels for SE-ResNeXt, and segmentation_models'
// "encoder.", "decoder.", "segmentation_head." for the segmentation models. So a file's names
// either match the model's as they are, or after one of these rules:
//   1. Wrapper prefix: when every name starts with "module." (DataParallel, DDP) it is removed
//      (repeatedly); failing any match, a first component shared by every name that the model
//      has no child of (e.g. "model." from Lightning) is removed too.
//      Names older releases of a source network used are renamed (torchvision DenseNet files:
//      "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight"); see legacy_renames().
//   2. Mapping, whichever matches the most names (ties: as stored):
//      - as stored: a ptx or segmentation_models checkpoint of the same architecture;
//      - into the encoder: an ImageNet classifier checkpoint (torchvision, Cadene) into a
//        segmentation model: the names are given "encoder.", and tensors under a top-level
//        module the encoder does not have are dropped and reported (the classifier head fc.,
//        classifier., last_linear., _fc.; stages beyond encoder_depth). The decoder and heads keep
//        their initial weights, and strictness applies to the encoder;
//      - from a segmentation encoder: a segmentation checkpoint into a classifier: "encoder." is
//        removed and the other tensors (decoder, heads) are dropped.
//   3. Input channels: a 4-d weight whose shape differs from the model's only in its input
//      channels, where the model's equal spec.in_channels (the stem convolution), is adapted with
//      adapt_input_channels (1 channel: the sum over RGB).
// Parameters and buffers (batch-norm running statistics, num_batches_tracked) are copied alike.
// A new encoder family needs nothing here as long as its module names follow its source
// network's.
#pragma once
#include <string>
#include <vector>

#include "ptx/models/model.h"
#include "ptx/models/registry.h"
#include "ptx/models/weights.h"

namespace ptx::models {

struct ImportOptions {
  // Strict: any missing, unexpected or mis-shaped name (after the rules) is an Error listing them,
  // and nothing is loaded. Not strict: loads what matches and reports the rest.
  bool strict = true;
};

struct ImportReport {
  std::string mapping;                 // "as stored", "into the encoder", "from a segmentation encoder"
  std::string stripped_prefix;         // "module." etc., or ""
  std::string target;                  // "model" or "encoder": what strictness applied to
  std::vector<std::string> dropped;    // file names left out by the mapping (classifier head ...)
  std::vector<std::string> adapted;    // "encoder.conv1.weight: 3 -> 1 input channels"
  LoadReport load;                     // names as in the model ("encoder.layer1.0.conv1.weight")
  // One line: mapping, counts, problems.
  std::string describe() const;
};

// Copies `tensors` (names as read from a file) into `model`, built from `spec`, by the rules
// above. Throws ptx::core::Error when no name matches at all (wrong architecture), or, strict,
// when anything does not match.
ImportReport import_weights(ModelImpl& model, const ModelSpec& spec, const NamedTensors& tensors,
                            const ImportOptions& options = {});

}  // namespace ptx::models

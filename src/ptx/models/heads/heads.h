// The heads of ptx's segmentation models, segmentation_models.pytorch's SegmentationHead and
// ClassificationHead with its module names and initialisation (initialize_head: xavier-uniform
// weights, zero biases), and the pair every encoder-decoder model carries.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "ptx/models/model.h"

namespace ptx::models {

// What every encoder-decoder model takes besides its encoder and decoder widths (ModelSpec's
// classes, attention, aux_head and dropout).
struct SegmentationOptions {
  int64_t classes = 1;
  std::string attention = "none";  // in the decoder blocks: "none" or "scse" (decoders/blocks.h)
  bool aux_head = false;           // a classification head on the deepest encoder map
  double dropout = 0.0;            // before the classification head's linear layer
};

// Sequential(Conv2d(in_channels, classes, kernel_size, padding kernel_size / 2, with bias)):
// registered as "segmentation_head" its weight is segmentation_head.0.weight. No activation.
torch::nn::Sequential make_segmentation_head(int64_t in_channels, int64_t classes, int64_t kernel_size = 3);

// segmentation_models' ClassificationHead with average pooling: Sequential(AdaptiveAvgPool2d(1),
// Flatten, Dropout(dropout) or Identity when dropout is 0, Linear(in_channels, classes)). The
// linear layer is child 3 (classification_head.3.weight), as in segmentation_models. N x classes
// logits, no activation. dropout in [0, 1).
torch::nn::Sequential make_classification_head(int64_t in_channels, int64_t classes, double dropout);

// What a segmentation model with an optional auxiliary head does with its two outputs: registers
// "segmentation_head" (3 x 3, on the decoder's output) and, when aux_head, "classification_head"
// (on the deepest encoder map) on the owning model.
class SegmentationHeads {
 public:
  SegmentationHeads() = default;
  // decoder_channels: channels of the decoder's output; deepest_channels: of the deepest encoder
  // map. Throws ptx::core::Error for classes < 1 or dropout outside [0, 1).
  SegmentationHeads(torch::nn::Module& owner, int64_t decoder_channels, int64_t deepest_channels,
                    int64_t classes, bool aux_head, double dropout);
  // Logits of the segmentation head; the auxiliary logits when there is a classification head
  // (else an undefined tensor).
  ModelOutput forward(const torch::Tensor& decoder_output, const torch::Tensor& deepest);
  torch::Tensor segment(const torch::Tensor& decoder_output) { return segmentation->forward(decoder_output); }

  torch::nn::Sequential segmentation{nullptr};
  torch::nn::Sequential classification{nullptr};  // null without an auxiliary head
};

}  // namespace ptx::models

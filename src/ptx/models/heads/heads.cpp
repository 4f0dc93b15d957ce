#include "ptx/models/heads/heads.h"

#include "ptx/core/error.h"

namespace ptx::models {
namespace nn = torch::nn;

nn::Sequential make_segmentation_head(int64_t in_channels, int64_t classes, int64_t kernel_size) {
  if (classes < 1) throw core::Error("segmentation head: classes must be >= 1, got " + std::to_string(classes));
  auto conv = nn::Conv2d(nn::Conv2dOptions(in_channels, classes, kernel_size).padding(kernel_size / 2));
  nn::init::xavier_uniform_(conv->weight);
  nn::init::zeros_(conv->bias);
  return nn::Sequential(conv);
}

nn::Sequential make_classification_head(int64_t in_channels, int64_t classes, double dropout) {
  if (classes < 1) throw core::Error("classification head: classes must be >= 1, got " + std::to_string(classes));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw core::Error("classification head: dropout must be in [0, 1), got " + std::to_string(dropout));
  auto linear = nn::Linear(in_channels, classes);
  nn::init::xavier_uniform_(linear->weight);
  nn::init::zeros_(linear->bias);
  nn::Sequential head(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), nn::Flatten());
  if (dropout > 0.0)
    head->push_back(nn::Dropout(nn::DropoutOptions(dropout)));
  else
    head->push_back(nn::Identity());
  head->push_back(linear);
  return head;
}

SegmentationHeads::SegmentationHeads(nn::Module& owner, int64_t decoder_channels, int64_t deepest_channels,
                                     int64_t classes, bool aux_head, double dropout) {
  segmentation = owner.register_module("segmentation_head", make_segmentation_head(decoder_channels, classes));
  if (aux_head)
    classification = owner.register_module("classification_head",
                                           make_classification_head(deepest_channels, classes, dropout));
}

ModelOutput SegmentationHeads::forward(const torch::Tensor& decoder_output, const torch::Tensor& deepest) {
  ModelOutput out;
  out.logits = segmentation->forward(decoder_output);
  if (classification) out.aux_logits = classification->forward(deepest);
  return out;
}

}  // namespace ptx::models

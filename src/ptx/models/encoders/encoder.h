// The encoder contract (segmentation_models.pytorch's): features(x) returns depth + 1 maps, the
// input first, each further map at half the previous resolution (for depth 5: strides 1, 2, 4, 8,
// 16, 32), with out_channels()[i] channels. One exception, as in segmentation_models: VGG's map 0
// is its first stage (64 channels at the input's resolution), not the input; see vgg.h.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ptx/models/model.h"

namespace ptx::models {

// An encoder is also a model: built with a classifier head (the torchvision network, with
// torchvision's module names) its forward(x) returns class logits. Built as a segmentation
// encoder it registers no classifier weights, and forward(x) throws ptx::core::Error.
class EncoderImpl : public ModelImpl {
 public:
  // Depth + 1 feature maps, starting with x itself.
  virtual std::vector<torch::Tensor> features(const torch::Tensor& x) = 0;
  // Channels of each map features() returns (size depth + 1; the first is in_channels).
  virtual std::vector<int64_t> out_channels() const = 0;
  // The registry name, e.g. "resnet34" (Module::name() stays the C++ type name).
  virtual std::string encoder_name() const = 0;
  int64_t depth() const { return static_cast<int64_t>(out_channels().size()) - 1; }
  // Classifier logits; throws unless the encoder was built with a classifier head.
  torch::Tensor forward(const torch::Tensor& x) override;
  // The classifier in two halves, for class activation maps (predict/gradcam.h): the last
  // convolutional feature map, the one forward() pools (N x C x h x w), and the head forward()
  // applies to it (pooling, dropout in training, the last linear layers), so that
  // forward(x) == classify_map(classifier_map(x)). Both throw unless the encoder was built with a
  // classifier head.
  virtual torch::Tensor classifier_map(const torch::Tensor& x);
  virtual torch::Tensor classify_map(const torch::Tensor& map);
};
using EncoderPtr = std::shared_ptr<EncoderImpl>;

}  // namespace ptx::models

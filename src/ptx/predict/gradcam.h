// Grad-CAM (Selvaraju et al., 2017): where in a radiograph a model's decision comes from. For a
// feature map A (C x h x w) and a scalar output y, the channel weights are the spatial means of
// dy/dA, and the map is relu(sum_c weight_c * A_c), normalised to [0, 1] and resized to the image.
//   classifier (ResNet, SE-ResNeXt, DenseNet, VGG, EfficientNet): A is the last convolutional map,
//     the one the classifier pools (EncoderImpl::classifier_map), y the class logit;
//   segmentation (unet, unetplusplus, attention_unet): A is the encoder's deepest map, y the sum of
//     the class's mask logits over the image.
// FC-DenseNet models are not supported (ptx::core::Error).
#pragma once
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <string>
#include <tuple>
#include <utility>

#include "ptx/models/model.h"
#include "ptx/models/registry.h"
#include "ptx/predict/ensemble.h"

namespace ptx::predict {

struct GradCamResult {
  cv::Mat heat;              // CV_32F in [0, 1] at the image's size; all 0 when nothing speaks for the output
  cv::Mat map;               // CV_32F at the feature map's resolution, after the ReLU, not normalised
  double score = 0;          // y: the class logit, or the summed mask logits
  double probability = 0;    // classifier: sigmoid(logit); segmentation: the highest pixel probability
};

class GradCam {
 public:
  // The checkpoint's model in eval mode on device (batch norm not folded: gradients are needed),
  // with its input settings; size > 0 replaces the input size. Throws core::Error naming the file
  // for a model Grad-CAM does not support.
  static GradCam load(const std::string& checkpoint, const torch::Device& device = torch::kCPU, int size = 0);
  GradCam(models::ModelPtr model, models::ModelSpec spec, ModelInput input, const torch::Device& device = torch::kCPU);

  bool classifier() const { return spec_.arch == "classifier"; }
  const models::ModelSpec& spec() const { return spec_; }
  const ModelInput& input() const { return input_; }

  // Grad-CAM of class `target` for a grey radiograph (CV_8UC1), prepared as in training.
  GradCamResult explain(const cv::Mat& gray, int target = 0) const;
  // On a prepared 1 x channels x H x W tensor: the map (h x w, after the ReLU, on the CPU), y and
  // the probability.
  std::tuple<torch::Tensor, double, double> cam(const torch::Tensor& x, int target = 0) const;

 private:
  models::ModelPtr model_;
  models::ModelSpec spec_;
  ModelInput input_;
  torch::Device device_ = torch::kCPU;
};

// The heat map (CV_32F in [0, 1], any size: resized to the image) over gray (CV_8UC1 or BGR) with
// an OpenCV colour map, each pixel's opacity alpha * heat, so cold regions show the radiograph.
cv::Mat blend_heatmap(const cv::Mat& gray, const cv::Mat& heat, double alpha = 0.6, int colormap = cv::COLORMAP_JET);

}  // namespace ptx::predict

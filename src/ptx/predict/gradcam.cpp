#include "ptx/predict/gradcam.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "ptx/core/error.h"
#include "ptx/data/image_tensor.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/decoders/attention_unet.h"
#include "ptx/models/decoders/unet.h"
#include "ptx/models/decoders/unetplusplus.h"
#include "ptx/models/encoders/encoder.h"
#include "ptx/models/weights.h"

namespace ptx::predict {

namespace {

const char* kSupported =
    "Grad-CAM supports classifiers on the registry encoders (ResNet, SE-ResNeXt, DenseNet, VGG, EfficientNet) and "
    "the unet, unetplusplus and attention_unet segmentation models";

// The encoder's deepest map and the mask logits computed from it, in one graph.
std::pair<torch::Tensor, torch::Tensor> deepest_and_logits(models::ModelImpl& model, const torch::Tensor& x) {
  if (auto* u = dynamic_cast<models::UNetImpl*>(&model)) {
    const auto f = u->encoder()->features(x);
    return {f.back(), u->segmentation_head()->forward(u->decoder()->forward(f))};
  }
  if (auto* u = dynamic_cast<models::UNetPlusPlusImpl*>(&model)) {
    const auto f = u->encoder()->features(x);
    return {f.back(), u->segmentation_head()->forward(u->decoder()->forward(f))};
  }
  if (auto* a = dynamic_cast<models::AttentionUNetImpl*>(&model)) {
    const auto f = a->standalone() ? a->own_encoder()->forward(x) : a->encoder()->features(x);
    return {f.back(), a->segmentation_head()->forward(a->decoder()->forward(f))};
  }
  throw core::Error(kSupported);
}

void check_supported(const models::ModelImpl& model, const models::ModelSpec& spec) {
  if (spec.arch == "classifier") {
    if (!dynamic_cast<const models::EncoderImpl*>(&model)) throw core::Error(std::string(kSupported) + "; not a " + spec.encoder + " classifier");
    return;
  }
  if (!dynamic_cast<const models::UNetImpl*>(&model) && !dynamic_cast<const models::UNetPlusPlusImpl*>(&model) &&
      !dynamic_cast<const models::AttentionUNetImpl*>(&model))
    throw core::Error(std::string(kSupported) + "; not arch " + spec.arch);
}

}  // namespace

GradCam::GradCam(models::ModelPtr model, models::ModelSpec spec, ModelInput input, const torch::Device& device)
    : model_(std::move(model)), spec_(std::move(spec)), input_(input), device_(device) {
  if (!model_) throw core::Error("GradCam: no model");
  check_supported(*model_, spec_);
  model_->to(device_);
  model_->eval();
}

GradCam GradCam::load(const std::string& checkpoint, const torch::Device& device, int size) {
  const auto ck = models::load_checkpoint(checkpoint);
  auto settings = checkpoint_settings(ck, checkpoint);
  if (size > 0) settings.input.size = size;
  auto model = models::build_model(ck.spec);
  models::load_named_tensors(*model, ck.state_dict);
  try {
    return GradCam(std::move(model), ck.spec, settings.input, device);
  } catch (const core::Error& e) {
    throw core::Error(core::at(checkpoint) + e.what());
  }
}

std::tuple<torch::Tensor, double, double> GradCam::cam(const torch::Tensor& input, int target) const {
  if (input.dim() != 4 || input.size(0) != 1) throw core::Error("Grad-CAM: expected a 1 x C x H x W tensor");
  torch::AutoGradMode grad_mode(true);
  // A leaf that requires grad, so the graph exists even when every parameter is frozen.
  const auto x = input.to(device_).detach().requires_grad_(true);
  torch::Tensor map, y;
  double probability = 0;
  if (classifier()) {
    auto* encoder = dynamic_cast<models::EncoderImpl*>(model_.get());
    map = encoder->classifier_map(x);
    const auto logits = encoder->classify_map(map);
    if (target < 0 || target >= logits.size(1))
      throw core::Error("Grad-CAM: class " + std::to_string(target) + " out of range: the model has " +
                        std::to_string(logits.size(1)) + " class(es)");
    y = logits[0][target];
    probability = torch::sigmoid(y).item<double>();
  } else {
    torch::Tensor logits;
    std::tie(map, logits) = deepest_and_logits(*model_, x);
    if (target < 0 || target >= logits.size(1))
      throw core::Error("Grad-CAM: class " + std::to_string(target) + " out of range: the model has " +
                        std::to_string(logits.size(1)) + " class(es)");
    y = logits[0][target].sum();
    probability = torch::sigmoid(logits[0][target].max()).item<double>();
  }
  const auto g = torch::autograd::grad({y}, {map})[0];
  const auto weights = g.mean({2, 3}, /*keepdim=*/true);
  const auto heat = torch::relu((weights * map).sum(1))[0].detach().to(torch::kCPU, torch::kFloat).contiguous();
  return {heat, y.item<double>(), probability};
}

GradCamResult GradCam::explain(const cv::Mat& gray, int target) const {
  if (gray.empty()) throw core::Error("Grad-CAM: empty image");
  const auto x = data::image_to_tensor(data::resize_square(gray, input_.size), input_.channels, input_.normalize).unsqueeze(0);
  auto [cam_t, score, probability] = cam(x, target);
  GradCamResult r;
  r.score = score;
  r.probability = probability;
  r.map = cv::Mat(int(cam_t.size(0)), int(cam_t.size(1)), CV_32F, cam_t.data_ptr<float>()).clone();
  double hi = 0;
  cv::minMaxLoc(r.map, nullptr, &hi);
  const cv::Mat normalised = hi > 0 ? cv::Mat(r.map / hi) : cv::Mat(cv::Mat::zeros(r.map.size(), CV_32F));
  cv::resize(normalised, r.heat, gray.size(), 0, 0, cv::INTER_LINEAR);
  cv::min(cv::max(r.heat, 0.0), 1.0, r.heat);  // bilinear interpolation stays in range; guard rounding
  return r;
}

cv::Mat blend_heatmap(const cv::Mat& gray, const cv::Mat& heat, double alpha, int colormap) {
  if (gray.empty() || gray.depth() != CV_8U) throw core::Error("blend_heatmap: the image must be 8-bit");
  if (heat.empty() || heat.type() != CV_32FC1) throw core::Error("blend_heatmap: the heat map must be CV_32FC1");
  cv::Mat base;
  if (gray.channels() == 1) cv::cvtColor(gray, base, cv::COLOR_GRAY2BGR);
  else base = gray.clone();
  cv::Mat h = heat;
  if (h.size() != gray.size()) cv::resize(heat, h, gray.size(), 0, 0, cv::INTER_LINEAR);
  cv::Mat h8, colour;
  h.convertTo(h8, CV_8U, 255.0);
  cv::applyColorMap(h8, colour, colormap);
  const cv::Mat scaled = h * alpha;
  cv::Mat w;
  cv::min(cv::max(scaled, 0.0), 1.0, w);
  cv::Mat w3, base_f, colour_f, out;
  cv::cvtColor(w, w3, cv::COLOR_GRAY2BGR);
  const cv::Mat keep = cv::Scalar::all(1.0) - w3;
  base.convertTo(base_f, CV_32FC3);
  colour.convertTo(colour_f, CV_32FC3);
  const cv::Mat out_f = base_f.mul(keep) + colour_f.mul(w3);
  out_f.convertTo(out, CV_8UC3);
  return out;
}

}  // namespace ptx::predict

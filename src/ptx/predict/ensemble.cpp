#include "ptx/predict/ensemble.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "ptx/core/error.h"
#include "ptx/core/memory.h"
#include "ptx/core/tensor_arena.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/fold.h"
#include "ptx/models/weights.h"

namespace ptx::predict {

CheckpointSettings checkpoint_settings(const models::Checkpoint& ck, const std::string& path) {
  CheckpointSettings s;
  s.input.channels = int(ck.spec.in_channels);
  if (ck.train_state && !ck.train_state->json.empty()) {
    const auto j = nlohmann::json::parse(ck.train_state->json);
    if (j.contains("input")) {
      s.input.size = j["input"].value("size", s.input.size);
      s.input.normalize = data::parse_normalization(j["input"].value("normalize", "imagenet"), path + ": input.normalize");
    }
    if (j.contains("triplet")) {
      s.triplet = post::Triplet::parse(j["triplet"].get<std::string>(), path + ": triplet");
      s.has_triplet = true;
    }
  }
  return s;
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw core::UsageError("precision '" + name + "': expected fp32 or bf16");
}

Ensemble Ensemble::load(const std::vector<std::string>& paths, const std::vector<double>& weights,
                        const torch::Device& device, int size, Precision precision) {
  if (!weights.empty() && weights.size() != paths.size())
    throw core::UsageError("give one --weight per --checkpoint (" + std::to_string(paths.size()) + " checkpoints, " +
                           std::to_string(weights.size()) + " weights)");
  Ensemble e;
  e.device_ = device;
  e.dtype_ = precision == Precision::bf16 ? torch::kBFloat16 : torch::kFloat32;
  for (size_t i = 0; i < paths.size(); ++i) {
    Member m;
    m.path = paths[i];
    m.weight = weights.empty() ? 1.0 : weights[i];
    if (!(m.weight > 0)) throw core::UsageError("--weight must be > 0, got " + std::to_string(m.weight));
    const auto ck = models::load_checkpoint(paths[i]);
    m.spec = ck.spec;
    const auto settings = checkpoint_settings(ck, paths[i]);
    m.input = settings.input;
    m.triplet = settings.triplet;
    m.has_triplet = settings.has_triplet;
    if (size > 0) m.input.size = size;
    m.model = models::build_model(m.spec);
    models::load_named_tensors(*m.model, ck.state_dict);
    m.model->to(device);
    models::prepare_for_inference(*m.model, /*channels_last=*/true);
    m.model->to(e.dtype_);  // after folding, which is exact only in fp32
    e.weight_sum_ += m.weight;
    e.members_.push_back(std::move(m));
  }
  core::return_freed_memory();  // the checkpoints' tensors and the unfolded weights
  return e;
}

bool Ensemble::classifier() const {
  for (const auto& m : members_)
    if (m.spec.arch != "classifier") return false;
  return !members_.empty();
}

torch::Tensor Ensemble::run(const Member& m, const cv::Mat& gray, bool hflip) const {
  c10::InferenceMode guard;
  // Every image of a member allocates the same tensors: planned once, then served from this
  // thread's arena (core/tensor_arena.h). The flipped view runs after the first, not beside it in
  // a batch of two, so it reuses the first view's blocks: half the memory, at the same speed.
  core::TensorArenaScope arena(m.path + " " + std::to_string(m.input.size) + (hflip ? " hflip" : ""));
  // Resized and normalised exactly as the training data set does it.
  const auto x = data::image_to_tensor(data::resize_square(gray, m.input.size), m.input.channels, m.input.normalize)
                     .unsqueeze(0)
                     .to(device_, dtype_)
                     .contiguous(at::MemoryFormat::ChannelsLast);
  const auto sigmoid = [&](const torch::Tensor& view) {
    return m.model->forward(view).to(torch::kFloat32).sigmoid_()[0];  // classes (x H x W)
  };
  auto p = sigmoid(x);
  if (hflip) {
    const auto flipped = sigmoid(x.flip({3}));
    p.add_(p.dim() == 3 ? flipped.flip({2}) : flipped).mul_(0.5);
  }
  return p.to(torch::kCPU).contiguous();
}

cv::Mat Ensemble::segment(const cv::Mat& gray, bool hflip) const {
  cv::Mat sum = cv::Mat::zeros(gray.size(), CV_32F);
  for (const auto& m : members_) {
    if (m.spec.arch == "classifier") throw core::Error(m.path + ": a classifier cannot segment; pass it with --classifier");
    const auto p = run(m, gray, hflip);  // classes x H x W; class 0 is pneumothorax
    const cv::Mat small(int(p.size(1)), int(p.size(2)), CV_32F, p.data_ptr<float>());
    cv::Mat full;
    cv::resize(small, full, gray.size(), 0, 0, cv::INTER_LINEAR);
    cv::scaleAdd(full, m.weight / weight_sum_, sum, sum);
  }
  return sum;
}

double Ensemble::classify(const cv::Mat& gray, bool hflip) const {
  double sum = 0;
  for (const auto& m : members_) {
    if (m.spec.arch != "classifier") throw core::Error(m.path + ": not a classifier (arch " + m.spec.arch + ")");
    sum += m.weight * run(m, gray, hflip)[0].item<double>();
  }
  return sum / weight_sum_;
}

}  // namespace ptx::predict

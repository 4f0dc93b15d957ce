// Models for inference: checkpoints loaded with their spec and input settings, put on the fast
// path (batch norm folded, channels-last, inference mode) on a device, and combined: sigmoid maps
// averaged over the flip views (one after the other, in the thread's tensor arena), then over
// the members with their weights.
#pragma once
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "ptx/data/image_tensor.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/model.h"
#include "ptx/models/registry.h"
#include "ptx/post/triplet.h"

namespace ptx::predict {

// How a checkpoint's model was fed in training (the checkpoint's "input" block).
struct ModelInput {
  int size = 512;
  int channels = 3;
  data::Normalization normalize = data::Normalization::imagenet;
};

// What a checkpoint's training state records for inference: its "input" block and the
// validation's best "triplet" (defaults and has_triplet = false when absent). Errors name path.
struct CheckpointSettings {
  ModelInput input;
  post::Triplet triplet;
  bool has_triplet = false;
};
CheckpointSettings checkpoint_settings(const models::Checkpoint& checkpoint, const std::string& path);

// The arithmetic inference runs in. bf16: weights and activations in bfloat16 (after batch norm is
// folded in fp32), outputs back in fp32. CPUs with AMX or AVX-512-BF16 and GPUs run it several
// times faster than fp32; masks stay nearly the same (README, `ptx predict --precision`).
enum class Precision { fp32, bf16 };
// "fp32" or "bf16"; anything else is a core::UsageError listing them.
Precision parse_precision(const std::string& name);

struct Member {
  std::string path;
  models::ModelSpec spec;
  ModelInput input;
  double weight = 1.0;
  models::ModelPtr model;
  post::Triplet triplet;  // the validation's best triplet stored with the checkpoint, if any
  bool has_triplet = false;
};

class Ensemble {
 public:
  // Loads each checkpoint (weights default to 1; otherwise one per path, > 0). size > 0 replaces
  // every member's input size. Throws ptx::core::Error naming the file.
  static Ensemble load(const std::vector<std::string>& paths, const std::vector<double>& weights,
                       const torch::Device& device, int size = 0, Precision precision = Precision::fp32);

  bool empty() const { return members_.empty(); }
  const std::vector<Member>& members() const { return members_; }
  bool classifier() const;  // every member is a classifier

  // Segmentation: the weighted mean sigmoid map (CV_32F) at the image's own size.
  cv::Mat segment(const cv::Mat& gray, bool hflip) const;
  // Classification: the weighted mean probability of the first class.
  double classify(const cv::Mat& gray, bool hflip) const;

 private:
  // The member's sigmoid output for one image: 1 or 2 (flip) views, averaged.
  torch::Tensor run(const Member& m, const cv::Mat& gray, bool hflip) const;

  std::vector<Member> members_;
  double weight_sum_ = 0;
  torch::Device device_ = torch::kCPU;
  torch::Dtype dtype_ = torch::kFloat32;
};

}  // namespace ptx::predict

// FC-DenseNet, "The One Hundred Layers Tiramisu" (Jegou et al. 2017), exactly as bfortuner's
// pytorch_tiramisu defines it (models/tiramisu.py and layers.py), with its module names
// (firstconv, denseBlocksDown.0.layers.0.conv.weight, transDownBlocks.0.norm.weight,
// bottleneck.bottleneck.layers.0.conv.weight, transUpBlocks.0.convTrans.weight,
// denseBlocksUp.0.layers.0.norm.running_mean, finalConv.weight), so its checkpoints load by name.
//
//   DenseLayer(c, g)      = Sequential(norm BN(c), relu, conv Conv3x3(c, g, bias), drop Dropout2d(0.2))
//   DenseBlock(c, g, n)   = n DenseLayers; layer j sees c + j g channels (each output concatenated
//                           to its input). Down path: returns input + all new features (c + n g);
//                           "upsample" blocks (bottleneck, up path): only the n g new features.
//   TransitionDown(c)     = Sequential(norm BN(c), relu, conv Conv1x1(c, c, bias), drop Dropout2d(0.2),
//                           maxpool 2x2)
//   TransitionUp(c, c)    = ConvTranspose2d(c, c, 3, stride 2, no padding, bias), centre-cropped to
//                           the skip's size, then concatenated with the skip
//   firstconv             = Conv3x3(in_channels, 48, bias)
//   forward: firstconv; for each down block: DenseBlock, keep as skip, TransitionDown; bottleneck
//   DenseBlock (upsample); for each up block: TransitionUp(with the matching skip), DenseBlock
//   (upsample, except the last); finalConv = Conv1x1(channels, classes, bias).
// Variants (bfortuner's): 57 = growth 12, down/up blocks 4,4,4,4,4, bottleneck 4; 67 = growth 16,
// 5,5,5,5,5, bottleneck 5; 103 = growth 16, down 4,5,7,10,12, up 12,10,7,5,4, bottleneck 15.
// Every input size works (5 poolings floor odd sizes; the transposed convolution's output, 2h + 1,
// is cropped to the skip's size).
//
// Heads: the segmentation head is bfortuner's finalConv (1x1), not the 3x3 head of the smp-style
// models, so that checkpoints load. The auxiliary head and the classifier's head are
// classification_head = ClassificationHead (heads.h) on the bottleneck's output (growth x
// bottleneck layers channels: 240 for 103), the deepest features the up path sees.
// Classifier form ("arch: classifier, encoder: fcdensenet103"): firstconv, down path, bottleneck,
// classification_head; no up path and no finalConv.
//
// Batch-norm folding: every batch norm here comes before its convolution, with a ReLU between
// (pre-activation), so none can be folded into a convolution; fold_batch_norm() folds nothing and
// leaves the model unchanged (it does not throw, so prepare_for_inference works on every model).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptx/models/heads/heads.h"
#include "ptx/models/model.h"

namespace ptx::models {

struct FCDenseNetOptions {
  std::string name;                    // "fcdensenet103", ...
  int64_t in_channels = 3;
  std::vector<int64_t> down_blocks;    // layers of each down dense block (5 blocks)
  std::vector<int64_t> up_blocks;      // layers of each up dense block (as many)
  int64_t bottleneck_layers = 0;
  int64_t growth_rate = 16;
  int64_t first_conv_channels = 48;
  double dense_dropout = 0.2;          // Dropout2d in every dense layer and transition down
  int64_t classes = 1;
  bool classifier = false;             // down path + bottleneck + classification_head only
  bool aux_head = false;               // segmentation model: also a classification_head
  double dropout = 0.0;                // before the classification head's linear layer

  // "fcdensenet57", "fcdensenet67", "fcdensenet103"; throws ptx::core::Error listing them.
  static FCDenseNetOptions named(const std::string& name);
  static const std::vector<std::string>& names();
  static bool is_name(const std::string& name);
};

// bfortuner's DenseBlock; forward as described above.
class FCDenseBlockImpl : public torch::nn::Module {
 public:
  FCDenseBlockImpl(int64_t in_channels, int64_t growth_rate, int64_t layers, bool upsample, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  bool upsample_;
  torch::nn::ModuleList layers{nullptr};
  std::vector<torch::nn::Sequential> layers_;
};
TORCH_MODULE(FCDenseBlock);

// bfortuner's TransitionUp: transposed convolution, centre crop to the skip, concatenation.
class FCTransitionUpImpl : public torch::nn::Module {
 public:
  FCTransitionUpImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& skip);

 private:
  torch::nn::ConvTranspose2d convTrans{nullptr};
};
TORCH_MODULE(FCTransitionUp);

class FCDenseNetImpl : public ModelImpl {
 public:
  explicit FCDenseNetImpl(const FCDenseNetOptions& options);

  // Segmentation: N x classes x H x W logits; classifier: N x classes logits.
  torch::Tensor forward(const torch::Tensor& x) override;
  ModelOutput forward_all(const torch::Tensor& x) override;
  // Folds nothing (pre-activation batch norms; see above).
  void fold_batch_norm() override {}

  const FCDenseNetOptions& options() const { return options_; }
  // Channels of the bottleneck's output (growth_rate x bottleneck_layers), the classification
  // head's input.
  int64_t bottleneck_channels() const { return options_.growth_rate * options_.bottleneck_layers; }

 private:
  // firstconv, down path and bottleneck; the skips (finest first) when asked.
  torch::Tensor encode(const torch::Tensor& x, std::vector<torch::Tensor>* skips);
  torch::Tensor decode(torch::Tensor x, std::vector<torch::Tensor> skips);

  FCDenseNetOptions options_;
  torch::nn::Conv2d firstconv{nullptr}, finalConv{nullptr};
  torch::nn::ModuleList denseBlocksDown{nullptr}, transDownBlocks{nullptr}, transUpBlocks{nullptr},
      denseBlocksUp{nullptr};
  torch::nn::Sequential bottleneck{nullptr};
  torch::nn::Sequential classification_head{nullptr};
  std::vector<FCDenseBlock> down_, up_;
  std::vector<torch::nn::Sequential> trans_down_;
  std::vector<FCTransitionUp> trans_up_;
};
TORCH_MODULE(FCDenseNet);

}  // namespace ptx::models

// The building blocks the segmentation decoders share, with segmentation_models.pytorch's
// definitions and module names: Conv2dReLU, the scSE attention module, the center block, and
// the attention gate of the Attention U-Net (Oktay et al. 2018). Heads live in models/heads.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptx::models {

// Valid values of ModelSpec::attention, in listing order: "none", "scse".
const std::vector<std::string>& decoder_attention_names();
// Throws ptx::core::Error naming the valid values unless `name` is one of them.
void check_decoder_attention(const std::string& name);

// segmentation_models' Conv2dReLU: Sequential(Conv2d k x k, padding k/2, no bias; BatchNorm2d;
// ReLU), children 0, 1, 2.
torch::nn::Sequential conv_bn_relu(int64_t in_channels, int64_t out_channels, int64_t kernel_size = 3);

// Two Conv2dReLU in a row, children "0" and "1": segmentation_models' CenterBlock (U-Net with a
// VGG encoder, whose deepest map has no convolution after its last pooling; a Sequential of two
// Conv2dReLU there, so the names agree: center.0.0.weight, center.1.1.running_var) and the
// double convolution of the classic U-Net's levels.
class DoubleConvImpl : public torch::nn::Module {
 public:
  DoubleConvImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x) { return second->forward(first->forward(x)); }
  void fold_batch_norm();  // each Conv2dReLU becomes Sequential(Conv2d with bias, ReLU)

 private:
  torch::nn::Sequential first{nullptr}, second{nullptr};
};
TORCH_MODULE(DoubleConv);

// Whether a U-Net or U-Net++ on this encoder gets a center block: segmentation_models adds one
// for encoders whose name starts with "vgg".
inline bool uses_center_block(const std::string& encoder_name) { return encoder_name.rfind("vgg", 0) == 0; }

// Concurrent spatial and channel squeeze-and-excitation (Roy et al. 2018), segmentation_models'
// SCSEModule: with r = max(1, C / 16),
//   cSE = Sequential(AdaptiveAvgPool2d(1), Conv2d(C, r, 1), ReLU, Conv2d(r, C, 1), Sigmoid)
//   sSE = Sequential(Conv2d(C, 1, 1), Sigmoid)
//   forward(x) = x * cSE(x) + x * sSE(x)
// Parameters: (C r + r) + (r C + C) + (C + 1). (segmentation_models uses C / 16, which is 0, an
// invalid layer, below 16 channels; the two agree wherever segmentation_models works.)
class SCSEModuleImpl : public torch::nn::Module {
 public:
  explicit SCSEModuleImpl(int64_t channels, int64_t reduction = 16);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential cSE{nullptr}, sSE{nullptr};
};
TORCH_MODULE(SCSEModule);

// segmentation_models' Attention wrapper: its child "attention" is the SCSEModule, so the
// parameters are named attention1.attention.cSE.1.weight, as in segmentation_models checkpoints.
// Built only for attention "scse" (for "none" decoder blocks register no attention module).
class DecoderAttentionImpl : public torch::nn::Module {
 public:
  explicit DecoderAttentionImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x) { return attention->forward(x); }

 private:
  SCSEModule attention{nullptr};
};
TORCH_MODULE(DecoderAttention);

// The additive attention gate of Attention U-Net (Oktay et al. 2018, "Attention U-Net: Learning
// Where to Look for the Pancreas"), in its common form with the gating signal g already at the
// skip's resolution:
//   W_g = Sequential(Conv2d(G, F, 1, no bias), BatchNorm2d(F))
//   W_x = Sequential(Conv2d(S, F, 1, no bias), BatchNorm2d(F))
//   psi = Sequential(Conv2d(F, 1, 1, no bias), BatchNorm2d(1), Sigmoid)
//   forward(skip, g) = skip * psi(relu(W_g(g) + W_x(skip)))      (the coefficient map broadcasts)
// with G the gating channels, S the skip's channels and F = max(1, S / 2) the intermediate
// channels (Oktay's F_int, half the skip's channels). Parameters: G F + 2F + S F + 2F + F + 2.
// No convolution has a bias: batch norm follows each (the published code's biases are redundant).
// A gate whose psi weights are zero, with fresh batch-norm statistics, gives 0.5 everywhere.
class AttentionGateImpl : public torch::nn::Module {
 public:
  AttentionGateImpl(int64_t skip_channels, int64_t gating_channels);
  torch::Tensor forward(const torch::Tensor& skip, const torch::Tensor& g);
  // The coefficient map alpha (N x 1 x H x W, in [0, 1]) that forward multiplies the skip by.
  torch::Tensor coefficients(const torch::Tensor& skip, const torch::Tensor& g);
  void fold_batch_norm();
  static int64_t intermediate_channels(int64_t skip_channels);

 private:
  torch::nn::Sequential W_g{nullptr}, W_x{nullptr}, psi{nullptr};
};
TORCH_MODULE(AttentionGate);

// segmentation_models' initialize_decoder on every submodule of `module`: Conv2d weights
// kaiming-uniform (fan in, ReLU gain), biases zero; batch norms weight 1, bias 0; Linear weights
// xavier-uniform, biases zero.
void initialize_decoder(torch::nn::Module& module);

}  // namespace ptx::models

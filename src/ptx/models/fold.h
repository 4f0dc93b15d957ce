// The fast inference path: batch norm folded into convolutions, channels-last weights.
#pragma once
#include <torch/torch.h>

#include <string>

#include "ptx/models/model.h"

namespace ptx::models {

// A new convolution (with bias, on conv's device and dtype) computing bn(conv(x)) with bn in eval
// mode: w' = w * s, b' = beta + (b - mean) * s with s = gamma / sqrt(var + eps). conv and bn are
// left untouched; the caller puts the result in conv's place and removes bn.
torch::nn::Conv2d fold_batch_norm_into(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn);

// bn(x), or x once bn has been folded into the convolution before it (an empty holder).
torch::Tensor batch_norm_unless_folded(torch::nn::BatchNorm2d& bn, const torch::Tensor& x);

// Folds bn into conv, both registered in parent (as conv_name and bn_name): the folded convolution
// takes conv's place, bn is unregistered and its holder emptied. Folding twice changes nothing.
void fold_registered_pair(torch::nn::Module& parent, torch::nn::Conv2d& conv, const std::string& conv_name,
                          torch::nn::BatchNorm2d& bn, const std::string& bn_name);

// A copy of seq in which every Conv2d directly followed by a BatchNorm2d is folded with it and
// the BatchNorm2d left out; the other children are kept (shared), in order.
torch::nn::Sequential fold_sequential(const torch::nn::Sequential& seq);

// Converts the module's 4-d parameters and buffers to channels-last memory (in place, keeping
// the same parameter objects). Feed it channels-last inputs too (x.contiguous(ChannelsLast)).
void to_channels_last(torch::nn::Module& module);

// eval(), fold_batch_norm(), and channels-last weights when asked: run the result under
// c10::InferenceMode. Inference only: the model cannot be trained afterwards.
void prepare_for_inference(ModelImpl& model, bool channels_last = true);

}  // namespace ptx::models

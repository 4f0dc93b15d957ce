#include "ptx/models/encoders/encoder.h"

#include "ptx/core/error.h"

namespace ptx::models {

torch::Tensor EncoderImpl::forward(const torch::Tensor& /*x*/) {
  throw core::Error("encoder " + encoder_name() +
                    " was built without a classifier head: use features(x), or build it with "
                    "num_classes > 0 (arch \"classifier\")");
}

torch::Tensor EncoderImpl::classifier_map(const torch::Tensor& x) { return EncoderImpl::forward(x); }

torch::Tensor EncoderImpl::classify_map(const torch::Tensor& map) { return EncoderImpl::forward(map); }

}  // namespace ptx::models

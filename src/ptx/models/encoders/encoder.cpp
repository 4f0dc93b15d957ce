#include "ptx/models/encoders/encoder.h"

#include "ptx/core/error.h"

namespace ptx::models {

torch::Tensor EncoderImpl::forward(const torch::Tensor& /*x*/) {
  throw core::Error("encoder " + encoder_name() +
                    " was built without a classifier head: use features(x), or build it with "
                    "num_classes > 0 (arch \"classifier\")");
}

}  // namespace ptx::models

#include "ptx/models/model.h"

#include "ptx/core/error.h"

namespace ptx::models {

void ModelImpl::fold_batch_norm() {
  throw core::Error(std::string("batch-norm folding is not implemented for ") + name());
}

}  // namespace ptx::models

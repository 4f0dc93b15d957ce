#include "ptx/data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "ptx/core/error.h"
#include "ptx/data/seed.h"

namespace ptx::data {

Loader::Loader(const TrainDataset& dataset, std::vector<std::size_t> order, const Pipeline* augment, uint64_t seed,
               LoaderOptions options)
    : dataset_(dataset), order_(std::move(order)), seed_(seed), options_(options) {
  if (options_.batch_size < 1) throw core::Error("loader: batch_size must be >= 1, got " + std::to_string(options_.batch_size));
  if (options_.workers < 0) throw core::Error("loader: workers must be >= 0, got " + std::to_string(options_.workers));
  for (std::size_t i : order_)
    if (i >= dataset_.size())
      throw core::Error("loader: index " + std::to_string(i) + " is outside the data set of " + std::to_string(dataset_.size()));
  const std::size_t bs = std::size_t(options_.batch_size);
  batches_ = options_.drop_last ? order_.size() / bs : (order_.size() + bs - 1) / bs;
  prefetch_ = options_.prefetch > 0 ? options_.prefetch : 2 * std::max(1, options_.workers);
  if (augment && !augment->empty()) augment_ = *augment;
  for (int t = 0; t < options_.workers; ++t) threads_.emplace_back(&Loader::work, this, augment_ ? *augment_ : Pipeline());
}

Loader::~Loader() { stop(); }

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

Batch Loader::build(std::size_t b, Pipeline* augment) const {
  const std::size_t first = b * std::size_t(options_.batch_size);
  const std::size_t last = std::min(order_.size(), first + std::size_t(options_.batch_size));
  Batch batch;
  batch.first = first;
  for (std::size_t pos = first; pos < last && !stop_; ++pos) {
    const std::size_t index = order_[pos];
    if (augment) augment->seed(derive_seed(seed_, options_.position_offset + pos * options_.position_stride));
    const Example ex = dataset_.get(index, augment);
    const std::size_t k = pos - first;
    if (k == 0) {
      const int64_t n = int64_t(last - first);
      batch.images = torch::empty({n, ex.image.size(0), ex.image.size(1), ex.image.size(2)}, torch::kFloat32);
      batch.masks = torch::empty({n, 1, ex.mask.size(1), ex.mask.size(2)}, torch::kFloat32);
      batch.labels = torch::empty({n}, torch::kFloat32);
      if (ex.target.defined()) batch.targets = torch::empty({n, ex.target.size(0)}, torch::kFloat32);
    } else if (ex.image.sizes().vec() != batch.images.sizes().slice(1).vec()) {
      throw core::Error(core::at(dataset_.root() + "/" + dataset_.row(index).image) + "sample size " +
                        std::to_string(ex.image.size(2)) + "x" + std::to_string(ex.image.size(1)) +
                        " differs from the batch's first sample; set the data set's size");
    }
    std::memcpy(batch.images[int64_t(k)].data_ptr<float>(), ex.image.data_ptr<float>(), ex.image.numel() * sizeof(float));
    std::memcpy(batch.masks[int64_t(k)].data_ptr<float>(), ex.mask.data_ptr<float>(), ex.mask.numel() * sizeof(float));
    batch.labels.data_ptr<float>()[k] = ex.label;
    if (ex.target.defined())
      std::memcpy(batch.targets[int64_t(k)].data_ptr<float>(), ex.target.data_ptr<float>(), ex.target.numel() * sizeof(float));
    batch.indices.push_back(index);
  }
  return batch;
}

void Loader::work(Pipeline augment) {
  Pipeline* aug = augment.empty() ? nullptr : &augment;
  for (;;) {
    std::size_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_cv_.wait(lock, [&] { return stop_ || next_build_ >= batches_ || next_build_ < next_out_ + std::size_t(prefetch_); });
      if (stop_ || next_build_ >= batches_) return;
      b = next_build_++;
    }
    Slot slot;
    try {
      slot.batch = build(b, aug);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[b] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (stop_ || next_out_ >= batches_) return std::nullopt;
  if (threads_.empty()) {  // no workers: load here
    Pipeline* aug = augment_ ? &*augment_ : nullptr;
    try {
      return build(next_out_++, aug);
    } catch (...) {
      stop_ = true;
      throw;
    }
  }
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return stop_ || ready_.count(next_out_) > 0; });
    if (stop_) return std::nullopt;
    auto it = ready_.find(next_out_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_out_;
  }
  space_cv_.notify_all();
  if (slot.error) {
    stop();
    std::rethrow_exception(slot.error);
  }
  return std::move(slot.batch);
}

std::vector<std::size_t> all_indices(const TrainDataset& dataset) {
  std::vector<std::size_t> v(dataset.size());
  std::iota(v.begin(), v.end(), std::size_t(0));
  return v;
}

}  // namespace ptx::data

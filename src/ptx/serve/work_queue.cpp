#include "ptx/serve/work_queue.h"

#include <algorithm>

namespace ptx::serve {

WorkQueue::WorkQueue(int workers, std::size_t max_waiting) : max_waiting_(max_waiting) {
  for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { run_worker(); });
}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkQueue::enqueue(std::function<void()> work, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A job is refused only when no worker is free and the line is full.
    const bool worker_free = running_ + waiting_.size() < threads_.size();
    if (stopping_ || (!worker_free && waiting_.size() >= max_waiting_)) return false;
    waiting_.push_back({std::move(work), std::move(done)});
  }
  ready_.notify_one();
  return true;
}

WorkQueue::Load WorkQueue::load() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {running_, waiting_.size(), threads_.size(), max_waiting_};
}

void WorkQueue::run_worker() {
  for (;;) {
    Item job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, nothing left
      job = std::move(waiting_.front());
      waiting_.pop_front();
      ++running_;
    }
    job.work();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
    }
    job.done();
  }
}

}  // namespace ptx::serve

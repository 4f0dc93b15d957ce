// A fixed set of worker threads with a bounded waiting line: `ptx serve` runs its model
// inferences here, so a burst of uploads waits in line up to a limit and is then refused (503)
// instead of piling up memory and latency without bound.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ptx::serve {

class WorkQueue {
 public:
  // workers >= 1 threads; at most max_waiting jobs wait for a free worker.
  WorkQueue(int workers, std::size_t max_waiting);
  ~WorkQueue();  // finishes the running and waiting jobs, then joins
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues job, or returns false (and drops it) when max_waiting jobs are already waiting.
  // A job must not throw (catch inside it).
  bool try_submit(std::function<void()> job);

  struct Load {
    std::size_t running, waiting, workers, max_waiting;
  };
  Load load() const;

 private:
  void work();

  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> waiting_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ptx::serve

// A fixed set of worker threads with a bounded waiting line: `ptx serve` runs its model
// inferences here, so a burst of uploads waits in line up to a limit and is then refused (503)
// instead of piling up memory and latency without bound.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
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

  // Queues job (a callable returning a value, which must not throw: catch inside it), or returns
  // nullopt when no worker is free and max_waiting jobs are already waiting. The future is ready
  // once the job has returned and its worker counts as free again, so whoever waits on it may
  // submit the next job at once.
  template <class Job>
  auto try_submit(Job job) -> std::optional<std::future<decltype(job())>> {
    using Result = decltype(job());
    auto promise = std::make_shared<std::promise<Result>>();
    auto result = std::make_shared<std::optional<Result>>();
    auto future = promise->get_future();
    if (!enqueue([job = std::move(job), result]() mutable { result->emplace(job()); },
                 [promise, result] { promise->set_value(std::move(**result)); }))
      return std::nullopt;
    return future;
  }

  struct Load {
    std::size_t running, waiting, workers, max_waiting;
  };
  Load load() const;

 private:
  // A job's work, and what tells its waiter it is done (run after the worker is counted free).
  struct Item {
    std::function<void()> work, done;
  };
  bool enqueue(std::function<void()> work, std::function<void()> done);
  void run_worker();

  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> waiting_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ptx::serve

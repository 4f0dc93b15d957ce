#include "ptx/core/threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <opencv2/core.hpp>
#include <thread>

namespace ptx::core {

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

void set_thread_count(int n) {
  n = std::max(1, n);
  at::set_num_threads(n);  // also sets OpenMP's count in LibTorch builds that use OpenMP
  cv::setNumThreads(n);
}

}  // namespace ptx::core

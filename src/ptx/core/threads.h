// One place that sets how many threads LibTorch, OpenMP and OpenCV use.
#pragma once

namespace ptx::core {

// Number of hardware threads (at least 1).
int hardware_threads();

// Sets LibTorch's intra-op pool (and with it OpenMP) and OpenCV's pool to n threads (n >= 1).
// LibTorch starts with one thread on small machines, so every command calls this.
void set_thread_count(int n);

}  // namespace ptx::core

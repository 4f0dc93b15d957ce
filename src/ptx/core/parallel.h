// Runs work over many items on a few threads (conversion, synthesis): each thread takes the next
// index until none is left.
#pragma once
#include <cstddef>
#include <functional>

namespace ptx::core {

// Calls body(i) for every i in [0, count) on `threads` threads (0 = all cores), the calling
// thread among them. If a body throws, the remaining items are not started and the first
// exception is rethrown once every thread has stopped.
void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& body);

}  // namespace ptx::core

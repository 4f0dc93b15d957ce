// SIGINT/SIGTERM stop the long-running commands (serve, node) cleanly: the signals are blocked in
// every thread (call block_stop_signals() before any other thread starts), then awaited by one
// thread that calls stop().
#pragma once
#include <csignal>
#include <functional>

namespace ptx::app {

sigset_t block_stop_signals();
void stop_on_signals(sigset_t signals, std::function<void()> stop);

}  // namespace ptx::app

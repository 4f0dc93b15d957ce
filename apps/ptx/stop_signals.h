// SIGINT/SIGTERM stop the long-running commands (serve, node) cleanly: the first one calls stop()
// from a thread of its own, a second one ends the process at once.
#pragma once
#include <functional>

namespace ptx::app {

// Installs the handlers; call before the threads whose work stop() ends are started or after,
// either works (a signal only writes to a pipe; the watcher thread reads it).
void stop_on_signals(std::function<void()> stop);

}  // namespace ptx::app

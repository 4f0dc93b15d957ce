#include "stop_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "ptx/core/error.h"
#include "ptx/core/log.h"

namespace ptx::app {

namespace {

int signal_pipe[2] = {-1, -1};

// Whichever thread the kernel picks runs this (LibTorch's and OpenCV's pools exist before any
// mask could be set): it only writes to the pipe, which is async-signal-safe.
void on_stop_signal(int) {
  const char byte = 1;
  const ssize_t written = ::write(signal_pipe[1], &byte, 1);
  (void)written;
}

}  // namespace

void stop_on_signals(std::function<void()> stop) {
  if (::pipe2(signal_pipe, O_CLOEXEC) != 0) throw core::Error("cannot create the signal pipe");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // The handler goes after the first signal, so a second Ctrl-C ends a stop that hangs. This also
  // takes SIGINT back from a shell that started a background job with it ignored.
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::thread([stop = std::move(stop)] {
    char byte = 0;
    while (::read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    core::info("stopping");
    stop();
  }).detach();
}

}  // namespace ptx::app

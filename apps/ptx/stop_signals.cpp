#include "stop_signals.h"

#include <pthread.h>

#include <thread>

#include "ptx/core/log.h"

namespace ptx::app {

sigset_t block_stop_signals() {
  // A shell starts background jobs with SIGINT ignored, and an ignored signal never reaches
  // sigwait: take the default back (then block it).
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void stop_on_signals(sigset_t signals, std::function<void()> stop) {
  std::thread([signals, stop = std::move(stop)] {
    int signal = 0;
    sigwait(&signals, &signal);
    core::info("stopping");
    stop();
  }).detach();
}

}  // namespace ptx::app

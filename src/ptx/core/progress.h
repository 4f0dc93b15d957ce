// A progress bar for long work: count, rate and ETA on stderr, redrawn at most ten times a second.
// Silent when stderr is not a terminal (logs and CI stay clean). Safe to tick from many threads.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace ptx::core {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total);
  ~ProgressBar();  // finishes the line if finish() was not called
  void tick(std::size_t n = 1);
  // Text shown after the counts (e.g. "loss 0.231 lr 1e-04"), replaced by the next call.
  void set_status(std::string status);
  void finish();
  // Turns drawing off, or back on; it is never on unless stderr is a terminal.
  void set_enabled(bool enabled) { enabled_ = enabled && terminal_; }
  std::size_t done() const { return done_; }
  double elapsed_seconds() const;

 private:
  void draw(bool final_line);
  std::string label_, status_;
  std::size_t total_;
  std::atomic<std::size_t> done_{0};
  const bool terminal_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

// "1:02:03" / "02:03" for an ETA or duration in seconds.
std::string format_duration(double seconds);

}  // namespace ptx::core

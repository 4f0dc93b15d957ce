// Helpers for the tests that run servers as child processes (Orthanc, ChromeDriver, ptx node): a
// free loopback port, and a child process with its output in a log file, stopped at destruction.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ptx::test {

// A TCP port free on loopback now (bound to port 0, then released).
int free_port();

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to log.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ChildProcess();  // SIGTERM, then SIGKILL after 10 s
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends sig and waits for the exit; the exit code, or 128 + the signal that ended it.
  int stop(int sig);
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// Runs a shell command line; its exit code and its stdout and stderr, merged (DCMTK's tools write
// their messages to stderr).
struct ShellResult {
  int exit_code;
  std::string output;
};
ShellResult run_shell(const std::string& command);

// Polls ready() every 100 ms until it is true or the timeout passes; returns its last answer.
bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

}  // namespace ptx::test

// The two kinds of failure ptx reports, and the exit codes they map to.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace ptx::core {

// A runtime failure (bad file, bad data): exit code 1. The message is one line that names the
// file (and line or key) and says what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line itself is wrong: exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// "path:line: " prefix for messages about a line of a text file (line is 1-based; 0 = no line).
std::string at(const std::string& path, std::size_t line = 0);

}  // namespace ptx::core

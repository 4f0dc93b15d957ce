#include "ptx/core/error.h"

namespace ptx::core {

std::string at(const std::string& path, std::size_t line) {
  return line ? path + ":" + std::to_string(line) + ": " : path + ": ";
}

}  // namespace ptx::core

#include "ptx/core/safe_name.h"

namespace ptx::core {

std::string unsafe_reason(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 255) return "it is longer than 255 bytes";
  if (name.front() == '.' || name.front() == '-') return "it starts with '.' or '-'";
  if (name.find("..") != std::string_view::npos) return "it contains \"..\"";
  for (unsigned char c : name) {
    if (c == '/' || c == '\\') return "it contains a path separator";
    if (c < 0x20 || c == 0x7f) return "it contains a control character";
    if (c == ':') return "it contains ':'";
  }
  return "";
}

bool is_safe_file_stem(std::string_view name) { return unsafe_reason(name).empty(); }

}  // namespace ptx::core

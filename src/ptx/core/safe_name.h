// Untrusted names (ImageIds from CSVs, upload names) become file names only through this check.
#pragma once
#include <string>
#include <string_view>

namespace ptx::core {

// True when name can be used as one file-name component: not empty, at most 255 bytes, no path
// separators, no "..", no control characters, and not starting with '.' or '-'.
bool is_safe_file_stem(std::string_view name);

// Why name is not safe, or "" when it is (for error messages).
std::string unsafe_reason(std::string_view name);

}  // namespace ptx::core

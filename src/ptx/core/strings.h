// Small string helpers shared by error messages and listings.
#pragma once
#include <string>
#include <vector>

namespace ptx::core {

// "a, b, c" (or with another separator): how errors list the valid choices.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

}  // namespace ptx::core

// Small string helpers shared by error messages and listings.
#pragma once
#include <string>
#include <vector>

namespace ptx::core {

// "a, b, c" (or with another separator): how errors list the valid choices.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

// v with `digits` digits after the point ("%.*f"): numbers in CSVs, logs and reports.
std::string fixed(double v, int digits);

// ASCII lower case (file extensions, header names).
std::string lower(std::string s);

}  // namespace ptx::core

// Base64 (RFC 4648, with padding): pictures embedded in the HTML report as data: URLs, and the
// screenshots a WebDriver returns.
#pragma once
#include <string>
#include <string_view>

namespace ptx::core {

std::string base64_encode(std::string_view bytes);

// Whitespace is skipped; any other character outside the alphabet is a core::Error.
std::string base64_decode(std::string_view text);

}  // namespace ptx::core

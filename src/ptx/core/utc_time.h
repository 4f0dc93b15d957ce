// Timestamps in records and logs: UTC to the second, "2026-12-04T01:30:07Z" (they sort as text).
#pragma once
#include <string>

namespace ptx::core {

std::string utc_now();

}  // namespace ptx::core

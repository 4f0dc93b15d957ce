#include "ptx/dicomnet/event_log.h"

#include <cstdio>

#include "ptx/core/utc_time.h"

namespace ptx::dicomnet {

std::string short_uid(const std::string& uid) {
  constexpr std::size_t kKept = 6;
  return uid.size() <= kKept ? uid : "..." + uid.substr(uid.size() - kKept);
}

void EventLog::emit(const std::string& event, nlohmann::json fields) {
  for (auto& [key, value] : fields.items())
    if (value.is_string() && key.size() > 4 && key.compare(key.size() - 4, 4, "_uid") == 0)
      value = short_uid(value.get<std::string>());
  std::lock_guard<std::mutex> lock(mutex_);
  if (json_) {
    nlohmann::json line = {{"time", core::utc_now()}, {"event", event}};
    line.update(fields);
    std::fprintf(stdout, "%s\n", line.dump().c_str());
    std::fflush(stdout);
    return;
  }
  if (quiet_ && event != "failed" && event != "refused") return;
  std::string line = core::utc_now() + " " + event;
  for (const auto& [key, value] : fields.items()) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    line += " " + key + "=" + (text.find(' ') == std::string::npos ? text : "\"" + text + "\"");
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace ptx::dicomnet

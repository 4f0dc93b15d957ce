// One line per event of the node (started, received, refused, released, predicted, skipped,
// failed, sent, retry, stopped) on stderr, or with --json one JSON object per line on stdout for
// machines. UIDs are shortened to their last digits and no patient attribute is ever logged: a log
// travels further than the images do. The full UIDs are in the spool's records.
#pragma once
#include <nlohmann/json.hpp>

#include <mutex>
#include <string>

namespace ptx::dicomnet {

// "1.2.276.0.7230010.3.1.4.8323329.4904.1517875185.355701" -> "...355701".
std::string short_uid(const std::string& uid);

class EventLog {
 public:
  explicit EventLog(bool json, bool quiet = false) : json_(json), quiet_(quiet) {}
  // fields: short values (ids, counts, statuses, AE titles, reasons); keys ending in "_uid" are
  // shortened.
  void emit(const std::string& event, nlohmann::json fields = nlohmann::json::object());

 private:
  bool json_, quiet_;
  std::mutex mutex_;
};

}  // namespace ptx::dicomnet

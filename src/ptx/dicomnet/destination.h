// Where the node sends its results, and what came of one attempt.
#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace ptx::dicomnet {

// A C-STORE peer written "AET@HOST:PORT" (the form `--destination` takes).
struct DicomPeer {
  std::string aet, host;
  int port = 0;
  std::string text() const { return aet + "@" + host + ":" + std::to_string(port); }
};
// core::UsageError naming the option value when it is not AET@HOST:PORT.
DicomPeer parse_dicom_peer(const std::string& text);

// A STOW-RS endpoint (`--stow`): "http://host:port/path/studies".
struct StowUrl {
  std::string scheme_host_port, path, text;
};
StowUrl parse_stow_url(const std::string& text);

struct SendOutcome {
  bool sent = false;
  bool retry = false;   // worth trying again later (peer down, timed out, out of resources)
  std::string message;  // what went wrong, or the peer's warning
};

// Bounded retries with exponential back-off (--retries, --retry-delay): attempt n (from 1) that
// failed retryably waits first_delay * 2^(n-1), at most max_delay, before the next one.
struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds first_delay{2000}, max_delay{60000};
  std::chrono::milliseconds delay_after(int attempt) const;
};

}  // namespace ptx::dicomnet

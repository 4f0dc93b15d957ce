#include "ptx/dicomnet/destination.h"

#include <algorithm>
#include <regex>

#include "ptx/core/error.h"

namespace ptx::dicomnet {

DicomPeer parse_dicom_peer(const std::string& text) {
  // AE titles: 1-16 characters of the default repertoire without backslash or control characters.
  static const std::regex pattern(R"(([ -\[\]-~]{1,16})@([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):([0-9]{1,5}))");
  std::smatch m;
  if (!std::regex_match(text, m, pattern) || std::stoi(m[3]) < 1 || std::stoi(m[3]) > 65535)
    throw core::UsageError("--destination " + text + ": expected AET@HOST:PORT, e.g. ORTHANC@127.0.0.1:4242");
  return {m[1], m[2], std::stoi(m[3])};
}

StowUrl parse_stow_url(const std::string& text) {
  static const std::regex pattern(R"((https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?)(/[^\s]*))");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    throw core::UsageError("--stow " + text + ": expected http://host:port/path, e.g. http://127.0.0.1:8042/dicom-web/studies");
  return {m[1], m[3], text};
}

std::chrono::milliseconds RetryPolicy::delay_after(int attempt) const {
  auto delay = first_delay;
  for (int i = 1; i < attempt && delay < max_delay; ++i) delay *= 2;
  return std::min(delay, max_delay);
}

}  // namespace ptx::dicomnet

#include "ptx/dicomnet/stow_sender.h"

#include <httplib.h>

#include <random>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"

namespace ptx::dicomnet {

namespace {

std::string random_boundary() {
  std::mt19937_64 random{std::random_device{}()};
  char text[40];
  std::snprintf(text, sizeof text, "ptx-%016llx", static_cast<unsigned long long>(random()));
  return text;
}

}  // namespace

MultipartBody stow_body(const std::vector<std::string>& file_contents) {
  // A boundary that occurs in no part (DICOM bytes can hold any sequence).
  std::string boundary;
  do {
    boundary = random_boundary();
  } while ([&] {
    for (const auto& f : file_contents)
      if (f.find(boundary) != std::string::npos) return true;
    return false;
  }());
  MultipartBody out;
  out.content_type = "multipart/related; type=\"application/dicom\"; boundary=" + boundary;
  for (const auto& f : file_contents) {
    out.body += "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
    out.body += f;
    out.body += "\r\n";
  }
  out.body += "--" + boundary + "--\r\n";
  return out;
}

SendOutcome send_stow(const StowUrl& url, const std::vector<std::string>& files, int timeout_seconds) {
  std::vector<std::string> contents;
  try {
    for (const auto& f : files) contents.push_back(core::read_file(f));
  } catch (const core::Error& e) {
    return {false, false, e.what()};
  }
  const MultipartBody request = stow_body(contents);
  httplib::Client client(url.scheme_host_port);
  client.set_connection_timeout(timeout_seconds, 0);
  client.set_read_timeout(timeout_seconds, 0);
  client.set_write_timeout(timeout_seconds, 0);
  const httplib::Headers headers = {{"Accept", "application/dicom+json"}};
  const auto response = client.Post(url.path, headers, request.body, request.content_type);
  if (!response) return {false, true, "cannot reach the server (" + httplib::to_string(response.error()) + ")"};
  const int status = response->status;
  if (status == 200) return {true, false, ""};
  const std::string what = "the server answered HTTP " + std::to_string(status);
  if (status == 202) return {false, false, what + " (some instances were not stored)"};
  return {false, status >= 500 || status == 408 || status == 429, what};
}

}  // namespace ptx::dicomnet

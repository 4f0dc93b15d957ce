// A plain HTTP client for the tests (ptx serve's API, ChromeDriver's WebDriver endpoint), built
// apart from the test executable so cpp-httplib's defines never meet the shared precompiled header.
#pragma once
#include <map>
#include <string>

namespace ptx::test {

struct HttpResponse {
  int status = 0;           // 0: no answer (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string error;        // why there was no answer
};

HttpResponse http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                          const std::string& body = "", const std::string& content_type = "application/octet-stream",
                          int timeout_seconds = 120);

}  // namespace ptx::test

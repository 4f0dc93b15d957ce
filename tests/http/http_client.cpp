#include "http_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

namespace ptx::test {

HttpResponse http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                          const std::string& body, const std::string& content_type, int timeout_seconds) {
  httplib::Client client(host, port);
  client.set_connection_timeout(timeout_seconds, 0);
  client.set_read_timeout(timeout_seconds, 0);
  client.set_write_timeout(timeout_seconds, 0);
  httplib::Result r = method == "GET"      ? client.Get(path)
                      : method == "DELETE" ? client.Delete(path)
                                           : client.Post(path, body, content_type);
  HttpResponse out;
  if (!r) {
    out.error = httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.body = r->body;
  for (const auto& [name, value] : r->headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    out.headers[lower] = value;
  }
  return out;
}

}  // namespace ptx::test

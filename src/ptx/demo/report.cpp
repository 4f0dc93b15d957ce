#include "ptx/demo/report.h"

#include <cctype>
#include <sstream>

#include "ptx/core/base64.h"

namespace ptx::demo {

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr const char* kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 24px 48px; color: #1d232a; }
h1 { margin-bottom: 0; } .subtitle { color: #5a6672; margin-top: 4px; }
h2 { border-bottom: 1px solid #d0d5da; padding-bottom: 4px; margin-top: 36px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border: 1px solid #d0d5da; padding: 4px 10px; text-align: left; }
th { background: #eef1f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; border-radius: 4px; }
figcaption { font-size: 13px; color: #5a6672; max-width: 560px; }
)";

// A cell that reads as a number is right-aligned.
bool numeric(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '%' || c == ' ' || c == ',')) return false;
  return true;
}

void paragraphs(std::ostringstream& html, const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    html << "<p>" << escape_html(text.substr(start, end - start)) << "</p>\n";
    start = end + 2;
  }
}

}  // namespace

std::string render_report_html(const Report& r) {
  std::ostringstream html;
  html << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << escape_html(r.title)
       << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << escape_html(r.title)
       << "</h1>\n<p class=\"subtitle\">" << escape_html(r.subtitle) << "</p>\n";
  for (const auto& s : r.sections) {
    html << "<section>\n<h2>" << escape_html(s.title) << "</h2>\n";
    paragraphs(html, s.text);
    for (const auto& t : s.tables) {
      html << "<table>\n<tr>";
      for (const auto& h : t.header) html << "<th>" << escape_html(h) << "</th>";
      html << "</tr>\n";
      for (const auto& row : t.rows) {
        html << "<tr>";
        for (const auto& cell : row) html << (numeric(cell) ? "<td class=\"num\">" : "<td>") << escape_html(cell) << "</td>";
        html << "</tr>\n";
      }
      html << "</table>\n";
    }
    if (!s.pictures.empty()) {
      html << "<div class=\"gallery\">\n";
      for (const auto& p : s.pictures)
        html << "<figure><img alt=\"" << escape_html(p.caption) << "\" src=\"data:image/png;base64,"
             << core::base64_encode(p.png) << "\"><figcaption>" << escape_html(p.caption) << "</figcaption></figure>\n";
      html << "</div>\n";
    }
    html << "</section>\n";
  }
  html << "</body>\n</html>\n";
  return html.str();
}

}  // namespace ptx::demo

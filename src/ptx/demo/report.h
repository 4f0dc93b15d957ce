// The demo's report.html: one self-contained page (pictures embedded as data: URLs, no scripts,
// no external files) that a person can open, keep or mail: what was run, the metric table, the
// training curves, the threshold heat map, galleries of overlays and the timings.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ptx::demo {

struct Picture {
  std::string png;      // PNG file bytes
  std::string caption;  // plain text
};

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // plain text cells
};

struct ReportSection {
  std::string title;
  std::string text;  // plain text paragraphs, separated by blank lines
  std::vector<Table> tables;
  std::vector<Picture> pictures;  // shown in a wrapping gallery
};

struct Report {
  std::string title;
  std::string subtitle;
  std::vector<ReportSection> sections;
};

// The page as HTML text (every text is escaped).
std::string render_report_html(const Report& report);

// &, <, >, " and ' as HTML entities.
std::string escape_html(const std::string& text);

}  // namespace ptx::demo

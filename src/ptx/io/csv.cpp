#include "ptx/io/csv.h"

#include <cerrno>
#include <cstring>

#include "ptx/core/error.h"

namespace ptx::io {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') { field.push_back('"'); i += 2; continue; }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      const std::size_t comma = line.find(',', i);
      i = comma == std::string_view::npos ? line.size() : comma;
    } else {
      const std::size_t comma = line.find(',', i);
      const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
      field = std::string(trim(line.substr(i, end - i)));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return fields;
}

CsvReader::CsvReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) throw core::Error(core::at(path) + "cannot open CSV (" + std::strerror(errno) + "); check the path");
}

bool CsvReader::next(std::vector<std::string>& fields) {
  std::string text;
  while (std::getline(in_, text)) {
    ++line_;
    if (line_ == 1 && text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    if (trim(text).empty()) continue;
    fields = split_csv_line(text);
    return true;
  }
  return false;
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

CsvWriter::CsvWriter(const std::string& path, const std::vector<std::string>& header) : out_(path) {
  if (!header.empty()) row(header);
}

void CsvWriter::row(const std::vector<std::string>& fields) {
  auto& s = out_.stream();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) s << ',';
    s << csv_field(fields[i]);
  }
  s << '\n';
}

}  // namespace ptx::io

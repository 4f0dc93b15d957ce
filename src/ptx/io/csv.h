// CSV reading and writing as the challenge's files need it: UTF-8 BOM, CRLF or LF, quoted fields,
// blanks around fields trimmed (the stage-1 files put a space before every value).
#pragma once
#include <cstddef>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ptx/core/atomic_file.h"

namespace ptx::io {

// Splits one CSV line into trimmed fields ("a, \"b,c\" ,d" -> a | b,c | d).
std::vector<std::string> split_csv_line(std::string_view line);

// Reads a CSV file line by line; empty lines are skipped.
class CsvReader {
 public:
  explicit CsvReader(const std::string& path);  // throws core::Error naming the file
  // Next non-empty row; false at the end. line() is its 1-based line number.
  bool next(std::vector<std::string>& fields);
  std::size_t line() const { return line_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::size_t line_ = 0;
};

// Quotes a field when it needs it.
std::string csv_field(std::string_view value);

// Writes a CSV atomically: rows go to a temporary file, renamed into place by commit().
class CsvWriter {
 public:
  CsvWriter(const std::string& path, const std::vector<std::string>& header);
  void row(const std::vector<std::string>& fields);
  void commit() { out_.commit(); }

 private:
  core::AtomicOutput out_;
};

}  // namespace ptx::io

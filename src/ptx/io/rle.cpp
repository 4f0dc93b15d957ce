#include "ptx/io/rle.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <opencv2/core.hpp>

namespace ptx::io {

RleMode parse_rle_mode(std::string_view name) {
  if (name == "relative") return RleMode::Relative;
  if (name == "absolute") return RleMode::Absolute;
  throw std::invalid_argument("unknown RLE mode '" + std::string(name) + "'; valid: relative, absolute");
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads the next whitespace-separated integer; false at the end of text.
bool next_number(std::string_view text, std::size_t& pos, int64_t& value, std::size_t index) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
  if (pos == text.size()) return false;
  std::size_t end = pos;
  while (end < text.size() && !is_space(text[end])) ++end;
  const char* first = text.data() + pos;
  const char* last = text.data() + end;
  if (*first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last || first == last)
    throw RleError("RLE value " + std::to_string(index + 1) + " '" + std::string(text.substr(pos, end - pos)) +
                   "' is not an integer");
  pos = end;
  return true;
}

}  // namespace

Runs rle_decode(std::string_view text, int64_t pixels, RleMode mode) {
  std::size_t pos = 0;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  std::string_view rest = text.substr(pos);
  while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);
  if (rest == "-1") return {};
  if (rest.empty()) throw RleError("RLE is empty; write -1 for an empty mask");

  Runs runs;
  int64_t cursor = 0;  // 0-based index just past the previous run
  int64_t first = 0, length = 0;
  std::size_t index = 0;
  pos = 0;
  while (next_number(rest, pos, first, index)) {
    if (!next_number(rest, pos, length, index + 1))
      throw RleError("RLE has an odd count of numbers (" + std::to_string(index + 1) + "); it must be start/length pairs");
    const std::size_t pair = index / 2 + 1;
    int64_t start;
    if (mode == RleMode::Relative) {
      if (first < 0) throw RleError("RLE pair " + std::to_string(pair) + " has a negative gap " + std::to_string(first));
      start = cursor + first;
    } else {
      if (first < 1) throw RleError("RLE pair " + std::to_string(pair) + " has start " + std::to_string(first) + "; absolute starts are 1-based");
      start = first - 1;
      if (start < cursor) throw RleError("RLE pair " + std::to_string(pair) + " overlaps or precedes the previous run");
    }
    if (length <= 0) throw RleError("RLE pair " + std::to_string(pair) + " has length " + std::to_string(length) + "; lengths must be positive");
    if (start > pixels - length)
      throw RleError("RLE pair " + std::to_string(pair) + " runs past the image (" + std::to_string(pixels) +
                     " pixels); check the image width and height");
    runs.push_back({start, length});
    cursor = start + length;
    index += 2;
  }
  return runs;
}

std::string rle_encode(const Runs& runs, RleMode mode) {
  if (runs.empty()) return "-1";
  std::string out;
  out.reserve(runs.size() * 12);
  char buf[24];
  int64_t cursor = 0;
  for (const Run& r : runs) {
    const int64_t first = mode == RleMode::Relative ? r.start - cursor : r.start + 1;
    if (!out.empty()) out.push_back(' ');
    auto res = std::to_chars(buf, buf + sizeof buf, first);
    out.append(buf, res.ptr);
    out.push_back(' ');
    res = std::to_chars(buf, buf + sizeof buf, r.length);
    out.append(buf, res.ptr);
    cursor = r.start + r.length;
  }
  return out;
}

Runs mask_to_runs(const cv::Mat& mask) {
  CV_Assert(mask.type() == CV_8UC1);
  const int height = mask.rows, width = mask.cols;
  // Scan rows in memory order (no transpose) and note where a pixel's state differs from the one
  // above it: those are the top and bottom edges of the vertical runs. Identical rows, nearly all
  // rows of a mask, are skipped by memcmp; rows above the first and below the last count as empty.
  std::vector<uint8_t> empty_row(width, 0);
  std::vector<int> edge_x, edge_y;
  const uint8_t* above = empty_row.data();
  for (int y = 0; y <= height; ++y) {
    const uint8_t* row = y < height ? mask.ptr<uint8_t>(y) : empty_row.data();
    if (std::memcmp(row, above, width) != 0) {
      for (int x = 0; x < width; ++x) {
        if (x + 8 <= width && std::memcmp(row + x, above + x, 8) == 0) {
          x += 7;
          continue;
        }
        if ((row[x] != 0) != (above[x] != 0)) {
          edge_x.push_back(x);
          edge_y.push_back(y);
        }
      }
    }
    above = row;
  }
  // Group edges by column (counting sort keeps each column's edges in y order): they pair up as
  // (top, bottom) of each run. A run ending at a column's bottom continues at the next column's top.
  std::vector<int> column_start(width + 1, 0);
  for (int x : edge_x) ++column_start[x + 1];
  for (int x = 0; x < width; ++x) column_start[x + 1] += column_start[x];
  std::vector<int> sorted_y(edge_y.size());
  std::vector<int> fill(column_start.begin(), column_start.end() - 1);
  for (std::size_t i = 0; i < edge_x.size(); ++i) sorted_y[fill[edge_x[i]]++] = edge_y[i];
  Runs runs;
  for (int x = 0; x < width; ++x)
    for (int i = column_start[x]; i < column_start[x + 1]; i += 2) {
      const int64_t start = int64_t(x) * height + sorted_y[i];
      const int64_t length = sorted_y[i + 1] - sorted_y[i];
      if (!runs.empty() && runs.back().start + runs.back().length == start) runs.back().length += length;
      else runs.push_back({start, length});
    }
  return runs;
}

void paint_runs(const Runs& runs, cv::Mat& mask) {
  CV_Assert(mask.type() == CV_8UC1 && mask.isContinuous());
  const int64_t height = mask.rows, width = mask.cols;
  uint8_t* data = mask.ptr<uint8_t>();
  for (const Run& r : runs) {
    int64_t x = r.start / height, y = r.start % height;
    for (int64_t k = 0; k < r.length; ++k) {
      data[y * width + x] = 255;
      if (++y == height) { y = 0; ++x; }
    }
  }
}

cv::Mat runs_to_mask(const Runs& runs, int width, int height) {
  cv::Mat mask = cv::Mat::zeros(height, width, CV_8UC1);
  paint_runs(runs, mask);
  return mask;
}

Runs union_runs(Runs runs) {
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.start < b.start; });
  Runs out;
  for (const Run& r : runs) {
    if (!out.empty() && r.start <= out.back().start + out.back().length) {
      Run& last = out.back();
      last.length = std::max(last.start + last.length, r.start + r.length) - last.start;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

int64_t run_pixels(const Runs& runs) {
  int64_t total = 0;
  for (const Run& r : runs) total += r.length;
  return total;
}

int64_t intersection_pixels(const Runs& a, const Runs& b) {
  int64_t total = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const int64_t lo = std::max(a[i].start, b[j].start);
    const int64_t a_end = a[i].start + a[i].length, b_end = b[j].start + b[j].length;
    const int64_t hi = std::min(a_end, b_end);
    if (hi > lo) total += hi - lo;
    if (a_end < b_end) ++i; else ++j;
  }
  return total;
}

}  // namespace ptx::io

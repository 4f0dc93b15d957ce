// SIIM run-length encoding of binary masks.
//
// Pixels are numbered column-major (top to bottom, then left to right). A run is a stretch of
// mask pixels. Two textual forms exist and callers choose one explicitly:
//  - Relative (SIIM's own, the default): each start counts the zero pixels since the end of the
//    previous run (the first from pixel 0).
//  - Absolute (standard Kaggle RLE): each start is the 1-based index of the run's first pixel.
// An empty mask is "-1".
#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ptx::io {

enum class RleMode { Relative, Absolute };

// Parses "relative"/"absolute"; throws std::invalid_argument listing the choices otherwise.
RleMode parse_rle_mode(std::string_view name);

// A run of mask pixels: 0-based column-major index of its first pixel, and its length.
struct Run {
  int64_t start;
  int64_t length;
  bool operator==(const Run& o) const { return start == o.start && length == o.length; }
};
using Runs = std::vector<Run>;

// A malformed RLE string; the message says what is wrong (callers add the file and line).
class RleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes text into runs, validated against an image of `pixels` pixels: non-numbers, an odd
// count, negative gaps/starts, zero or negative lengths and runs past the image are RleError.
// The runs come out in pixel order.
Runs rle_decode(std::string_view text, int64_t pixels, RleMode mode = RleMode::Relative);

// Encodes runs (sorted, not overlapping) as text; empty -> "-1".
std::string rle_encode(const Runs& runs, RleMode mode = RleMode::Relative);

// Runs of the nonzero pixels of an 8-bit single-channel mask, column-major.
Runs mask_to_runs(const cv::Mat& mask);

// Paints runs into a width x height 8-bit mask (value 255 on a zero background).
cv::Mat runs_to_mask(const Runs& runs, int width, int height);
// Paints runs into an existing mask (union).
void paint_runs(const Runs& runs, cv::Mat& mask);

// Union of several run lists (several label rows of one image): sorted, merged runs.
Runs union_runs(Runs runs);

// Number of pixels covered by (sorted, non-overlapping) runs.
int64_t run_pixels(const Runs& runs);

// Pixels covered by both run lists (each sorted and non-overlapping).
int64_t intersection_pixels(const Runs& a, const Runs& b);

// Convenience: mask -> text and text -> mask.
inline std::string rle_encode(const cv::Mat& mask, RleMode mode = RleMode::Relative) {
  return rle_encode(mask_to_runs(mask), mode);
}
inline cv::Mat rle_decode_mask(std::string_view text, int width, int height, RleMode mode = RleMode::Relative) {
  return runs_to_mask(rle_decode(text, int64_t(width) * height, mode), width, height);
}

}  // namespace ptx::io

// The challenge's label files (train-rle.csv, stage_2_train.csv, submissions): ImageId and
// EncodedPixels, one row per pneumothorax region, several rows per image merged into one mask.
#pragma once
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "ptx/io/rle.h"

namespace ptx::io {

// One row's RLE text with where it came from, kept undecoded until the image size is known.
struct LabelRow {
  std::string rle;
  std::size_t line;
};

struct ImageLabels {
  std::string image_id;
  std::vector<LabelRow> rows;  // "-1" rows included

  // True when a row has runs. Known without the image size: every row passed read_label_csv's
  // syntax check, so a row is either "-1" or at least one run of positive length.
  bool positive() const;
};

// All labels of a file, images in order of first appearance.
struct LabelSet {
  std::string path;
  RleMode mode = RleMode::Relative;
  std::vector<ImageLabels> images;
  std::unordered_map<std::string, std::size_t> index;  // image_id -> position in images

  const ImageLabels* find(const std::string& image_id) const;
  // The merged runs of one image for a width x height image; RleError becomes core::Error
  // naming the file and line.
  Runs runs(const ImageLabels& labels, int width, int height) const;
  cv::Mat mask(const ImageLabels& labels, int width, int height) const;
};

// Reads a label CSV: header or none (a first row whose second column is not RLE text is a header,
// e.g. "ImageId, EncodedPixels"), BOM, CRLF, blanks, extra columns ignored. The RLE column is
// chosen by the header name EncodedPixels when present, the second column otherwise. Every row's
// RLE is checked for syntax here; a bad row is core::Error naming file and line.
LabelSet read_label_csv(const std::string& path, RleMode mode = RleMode::Relative);

}  // namespace ptx::io

// `ptx convert`: a data set of DICOMs (or PNG/JPEG radiographs) and label CSV, converted once to a
// cached set of PNG images and masks at one size, with an index and folds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ptx::data {

struct ConvertOptions {
  std::vector<std::string> dicom_dirs;  // searched recursively for *.dcm
  std::vector<std::string> image_dirs;  // PNG/JPEG radiographs instead (ImageId = file stem)
  std::string labels;                   // label CSV; empty = test-set mode (no masks, no folds)
  std::string out;
  int size = 512;                       // output images are size x size
  int folds = 5;
  uint64_t seed = 42;
  int threads = 0;                      // 0 = all cores
  bool progress = true;
};

struct ConvertSummary {
  std::size_t images = 0;               // inputs found and matched
  std::size_t written = 0;              // converted in this run
  std::size_t skipped_existing = 0;     // already converted by an earlier run
  std::size_t failed = 0;               // unreadable inputs (listed in <out>/errors.csv)
  std::size_t positives = 0;
  std::size_t images_without_labels = 0;  // listed in <out>/unlabelled_images.csv
  std::size_t labels_without_images = 0;  // listed in <out>/labels_without_images.csv
  double seconds = 0;
};

// Writes <out>/images/<ImageId>.png (area interpolation), <out>/masks/<ImageId>.png (union of the
// label rows, binary 0/255, same geometry), <out>/index.csv and <out>/folds.csv (reused when it
// exists). Throws core::Error for problems that stop the whole run.
ConvertSummary convert_dataset(const ConvertOptions& options);

}  // namespace ptx::data

// The data set as found on disk: radiograph files matched to label ImageIds, and the stratified
// folds that split it for cross-validation.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ptx/io/label_csv.h"

namespace ptx::data {

struct SourceImage {
  std::string image_id;  // the file stem: the challenge names files <SOPInstanceUID>.dcm
  std::string path;
  bool is_dicom;
};

// Files under dirs (recursively, nested <Study>/<Series>/ or flat) whose extension is one of
// extensions (lower case, with the dot, matched case-insensitively), sorted by path.
std::vector<std::string> find_files(const std::vector<std::string>& dirs, const std::vector<std::string>& extensions);

// DICOM files (.dcm) and plain radiographs (.png/.jpg/.jpeg) as SourceImages, sorted by ImageId.
// A second file with an ImageId already seen is a core::Error naming both paths.
std::vector<SourceImage> find_images(const std::vector<std::string>& dicom_dirs, const std::vector<std::string>& image_dirs);

struct LabelMatch {
  std::vector<SourceImage> matched;                 // images with labels, sorted by ImageId
  std::vector<SourceImage> images_without_labels;
  std::vector<std::string> labels_without_images;  // ImageIds, in the label file's order
};
LabelMatch match_labels(const std::vector<SourceImage>& images, const io::LabelSet& labels);

// Throws core::Error naming the CSV line when an ImageId of labels cannot be a file name.
void check_label_ids_are_safe(const io::LabelSet& labels);

// Stratified k-fold split: positives and negatives are shuffled separately (seeded, the same on
// every platform) and dealt round-robin, so every fold has the same share of positives.
std::unordered_map<std::string, int> stratified_folds(const std::vector<std::string>& image_ids,
                                                      const std::vector<bool>& positive, int folds, uint64_t seed);

// folds.csv (ImageId,fold): written atomically, read back for reuse.
void write_folds_csv(const std::string& path, const std::unordered_map<std::string, int>& folds);
std::unordered_map<std::string, int> read_folds_csv(const std::string& path);

}  // namespace ptx::data

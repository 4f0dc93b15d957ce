// Multi-label classification targets from a CSV such as NIH ChestX-ray14's Data_Entry_2017.csv
// ("Image Index,Finding Labels,...", labels joined by '|', "No Finding" for none): one 0/1 target
// per class name.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

namespace ptx::data {

struct MultiLabelOptions {
  std::string id_column = "Image Index";
  std::string labels_column = "Finding Labels";
  char separator = '|';
  // The classes in target order. Empty: every label found in the file, sorted. Given: labels of
  // other classes are ignored, but a class that never occurs is an error (a typo, most likely).
  std::vector<std::string> classes;
  std::string none_label = "No Finding";  // means no class at all ("" = no such label)
};

struct MultiLabelTable {
  std::vector<std::string> classes;
  // Keyed by image id without its file extension ("00000001_000.png" -> "00000001_000").
  std::unordered_map<std::string, std::vector<float>> targets;

  // The targets of an image id (with or without extension), or null.
  const std::vector<float>* find(const std::string& image_id) const;
};

// Throws core::Error naming the file (and line) for a missing column, a duplicate image or an
// unknown class.
MultiLabelTable read_multilabel_csv(const std::string& path, const MultiLabelOptions& options = {});

// "00000001_000.png" -> "00000001_000" (image extensions only: png, jpg, jpeg, dcm).
std::string image_stem(const std::string& id);

}  // namespace ptx::data

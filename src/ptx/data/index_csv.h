// index.csv, the converted data set's table of contents (written by `ptx convert`, read by
// training and prediction): ImageId,image,mask,positive,fold,age,sex,view. Paths are relative to
// the folder holding index.csv; test-set rows have no mask, positive -1 and fold -1.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ptx::data {

struct IndexRow {
  std::string image_id;
  std::string image;  // relative path of the PNG
  std::string mask;   // relative path of the mask PNG, or "" without labels
  int positive = -1;  // 1, 0, or -1 when unknown
  int fold = -1;
  std::optional<double> age;
  std::string sex, view;
};

void write_index_csv(const std::string& path, const std::vector<IndexRow>& rows);
std::vector<IndexRow> read_index_csv(const std::string& path);

}  // namespace ptx::data

#include "ptx/io/label_csv.h"

#include <algorithm>
#include <cctype>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/io/csv.h"

namespace ptx::io {

namespace {
bool looks_like_rle(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) || c == ' ' || c == '-' || c == '+'; });
}
}  // namespace

bool ImageLabels::positive() const {
  return std::any_of(rows.begin(), rows.end(), [](const LabelRow& r) { return r.rle != "-1"; });
}

const ImageLabels* LabelSet::find(const std::string& image_id) const {
  auto it = index.find(image_id);
  return it == index.end() ? nullptr : &images[it->second];
}

Runs LabelSet::runs(const ImageLabels& labels, int width, int height) const {
  Runs all;
  for (const LabelRow& row : labels.rows) {
    try {
      Runs r = rle_decode(row.rle, int64_t(width) * height, mode);
      all.insert(all.end(), r.begin(), r.end());
    } catch (const RleError& e) {
      throw core::Error(core::at(path, row.line) + e.what() + " (image " + std::to_string(width) + "x" +
                        std::to_string(height) + ")");
    }
  }
  return labels.rows.size() > 1 ? union_runs(std::move(all)) : all;
}

cv::Mat LabelSet::mask(const ImageLabels& labels, int width, int height) const {
  return runs_to_mask(runs(labels, width, height), width, height);
}

LabelSet read_label_csv(const std::string& path, RleMode mode) {
  LabelSet set;
  set.path = path;
  set.mode = mode;
  CsvReader reader(path);
  std::vector<std::string> f;
  std::size_t id_col = 0, rle_col = 1;
  bool first = true;
  while (reader.next(f)) {
    if (first) {
      first = false;
      if (f.size() >= 2 && !looks_like_rle(f[1])) {  // a header
        for (std::size_t i = 0; i < f.size(); ++i) {
          const std::string name = core::lower(f[i]);
          if (name == "imageid") id_col = i;
          if (name == "encodedpixels") rle_col = i;
        }
        continue;
      }
    }
    if (f.size() <= std::max(id_col, rle_col))
      throw core::Error(core::at(path, reader.line()) + "expected ImageId and EncodedPixels columns, found " +
                        std::to_string(f.size()) + " column(s)");
    const std::string& id = f[id_col];
    if (id.empty()) throw core::Error(core::at(path, reader.line()) + "empty ImageId");
    try {
      rle_decode(f[rle_col], INT64_MAX / 2, mode);  // syntax only; bounds are checked per image size
    } catch (const RleError& e) {
      throw core::Error(core::at(path, reader.line()) + e.what());
    }
    auto [it, inserted] = set.index.emplace(id, set.images.size());
    if (inserted) set.images.push_back({id, {}});
    set.images[it->second].rows.push_back({f[rle_col], reader.line()});
  }
  return set;
}

}  // namespace ptx::io

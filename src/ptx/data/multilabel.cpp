#include "ptx/data/multilabel.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/io/csv.h"

namespace ptx::data {

namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> split_labels(const std::string& field, char sep, const std::string& none) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t end = field.find(sep, start);
    if (end == std::string::npos) end = field.size();
    const std::string label = trim(field.substr(start, end - start));
    if (!label.empty() && label != none) out.push_back(label);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string image_stem(const std::string& id) {
  const std::size_t dot = id.rfind('.');
  if (dot == std::string::npos) return id;
  const std::string ext = core::lower(id.substr(dot + 1));
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "dcm" ? id.substr(0, dot) : id;
}

const std::vector<float>* MultiLabelTable::find(const std::string& image_id) const {
  const auto it = targets.find(image_stem(image_id));
  return it == targets.end() ? nullptr : &it->second;
}

MultiLabelTable read_multilabel_csv(const std::string& path, const MultiLabelOptions& options) {
  io::CsvReader reader(path);
  std::vector<std::string> f;
  if (!reader.next(f)) throw core::Error(core::at(path) + "empty file; expected a header with " + options.id_column + " and " + options.labels_column);
  const auto column = [&](const std::string& name) {
    const auto it = std::find(f.begin(), f.end(), name);
    if (it == f.end()) throw core::Error(core::at(path, 1) + "no column '" + name + "' in the header");
    return std::size_t(it - f.begin());
  };
  const std::size_t id_col = column(options.id_column), labels_col = column(options.labels_column);

  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  std::set<std::string> seen_ids, found;
  while (reader.next(f)) {
    if (f.size() <= std::max(id_col, labels_col))
      throw core::Error(core::at(path, reader.line()) + "too few columns");
    const std::string id = image_stem(f[id_col]);
    if (id.empty()) throw core::Error(core::at(path, reader.line()) + "empty " + options.id_column);
    if (!seen_ids.insert(id).second) throw core::Error(core::at(path, reader.line()) + "image " + f[id_col] + " appears twice");
    std::vector<std::string> labels = split_labels(f[labels_col], options.separator, options.none_label);
    found.insert(labels.begin(), labels.end());
    rows.emplace_back(id, std::move(labels));
  }

  MultiLabelTable table;
  if (options.classes.empty()) {
    table.classes.assign(found.begin(), found.end());
  } else {
    table.classes = options.classes;
    for (const std::string& c : table.classes)
      if (!found.count(c)) {
        std::string all;
        for (const std::string& x : found) all += (all.empty() ? "" : ", ") + x;
        throw core::Error(core::at(path) + "class '" + c + "' never occurs in column " + options.labels_column + "; labels found: " + all);
      }
  }
  for (auto& [id, labels] : rows) {
    std::vector<float> t(table.classes.size(), 0.0f);
    for (const std::string& l : labels) {
      const auto it = std::find(table.classes.begin(), table.classes.end(), l);
      if (it != table.classes.end()) t[std::size_t(it - table.classes.begin())] = 1.0f;
    }
    table.targets.emplace(id, std::move(t));
  }
  return table;
}

}  // namespace ptx::data

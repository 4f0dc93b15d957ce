#include "ptx/data/index_csv.h"

#include <cstdio>

#include "ptx/core/error.h"
#include "ptx/io/csv.h"

namespace ptx::data {

namespace {
const std::vector<std::string> kHeader = {"ImageId", "image", "mask", "positive", "fold", "age", "sex", "view"};

std::string format_age(const std::optional<double>& age) {
  if (!age) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", *age);
  return buf;
}
}  // namespace

void write_index_csv(const std::string& path, const std::vector<IndexRow>& rows) {
  io::CsvWriter w(path, kHeader);
  for (const IndexRow& r : rows)
    w.row({r.image_id, r.image, r.mask, std::to_string(r.positive), std::to_string(r.fold), format_age(r.age), r.sex, r.view});
  w.commit();
}

std::vector<IndexRow> read_index_csv(const std::string& path) {
  io::CsvReader reader(path);
  std::vector<std::string> f;
  if (!reader.next(f) || f != kHeader)
    throw core::Error(core::at(path, 1) + "not a ptx index.csv (expected header ImageId,image,mask,positive,fold,age,sex,view); run ptx convert");
  std::vector<IndexRow> rows;
  while (reader.next(f)) {
    if (f.size() != kHeader.size())
      throw core::Error(core::at(path, reader.line()) + "expected " + std::to_string(kHeader.size()) + " columns, found " + std::to_string(f.size()));
    IndexRow r;
    r.image_id = f[0];
    r.image = f[1];
    r.mask = f[2];
    try {
      r.positive = std::stoi(f[3]);
      r.fold = std::stoi(f[4]);
      if (!f[5].empty()) r.age = std::stod(f[5]);
    } catch (const std::exception&) {
      throw core::Error(core::at(path, reader.line()) + "positive, fold and age must be numbers");
    }
    r.sex = f[6];
    r.view = f[7];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace ptx::data

#include "ptx/data/train_dataset.h"

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "ptx/core/error.h"
#include "ptx/data/augment.h"
#include "ptx/data/multilabel.h"
#include "ptx/io/image.h"

namespace ptx::data {

std::vector<IndexRow> fold_rows(const std::vector<IndexRow>& rows, int fold, Split split) {
  std::vector<IndexRow> out;
  for (const IndexRow& r : rows) {
    if (r.fold < 0 || r.mask.empty()) continue;  // test rows
    const bool in_fold = r.fold == fold;
    if ((split == Split::valid && in_fold) || (split == Split::train && !in_fold)) out.push_back(r);
  }
  return out;
}

TrainDataset::TrainDataset(std::string root, std::vector<IndexRow> rows, DatasetOptions options)
    : root_(std::move(root)), rows_(std::move(rows)), options_(options) {
  if (options_.channels != 1 && options_.channels != 3)
    throw core::Error("dataset: channels must be 1 or 3, got " + std::to_string(options_.channels));
  if (options_.size < 0) throw core::Error("dataset: size must be >= 0, got " + std::to_string(options_.size));
}

void TrainDataset::set_targets(const MultiLabelTable& table) {
  std::vector<std::vector<float>> targets;
  std::string missing;
  std::size_t n_missing = 0;
  for (const IndexRow& r : rows_) {
    const std::vector<float>* t = table.find(r.image_id);
    if (!t) {
      if (n_missing++ < 5) missing += (missing.empty() ? "" : ", ") + r.image_id;
      continue;
    }
    targets.push_back(*t);
  }
  if (n_missing)
    throw core::Error("multi-label targets: " + std::to_string(n_missing) + " images have no row in the labels CSV (" + missing +
                      (n_missing > 5 ? ", ..." : "") + ")");
  classes_ = table.classes;
  targets_ = std::move(targets);
}

std::vector<int> TrainDataset::labels() const {
  std::vector<int> out;
  out.reserve(rows_.size());
  for (const IndexRow& r : rows_) out.push_back(r.positive > 0 ? 1 : 0);
  return out;
}

std::string TrainDataset::path_of(const std::string& relative) const {
  return (std::filesystem::path(root_) / relative).string();
}

std::vector<std::string> TrainDataset::check_files() const {
  std::vector<std::string> missing;
  for (const IndexRow& r : rows_) {
    for (const std::string* rel : {&r.image, &r.mask}) {
      if (rel->empty() || (rel == &r.mask && !options_.masks)) continue;
      const std::string p = path_of(*rel);
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec)) missing.push_back(p);
    }
  }
  return missing;
}

Sample TrainDataset::load(std::size_t i) const {
  const IndexRow& r = rows_.at(i);
  Sample s;
  s.image = resize_square(io::read_gray_image(path_of(r.image)), options_.size);
  if (r.mask.empty() || !options_.masks) {
    s.mask = cv::Mat::zeros(s.image.size(), CV_8UC1);
  } else {
    const std::string mask_path = path_of(r.mask);
    cv::Mat m = resize_square(io::read_gray_image(mask_path), options_.size);
    if (m.size() != s.image.size())
      throw core::Error(core::at(mask_path) + "mask is " + std::to_string(m.cols) + "x" + std::to_string(m.rows) + ", its image " +
                        std::to_string(s.image.cols) + "x" + std::to_string(s.image.rows));
    cv::threshold(m, s.mask, 127, 255, cv::THRESH_BINARY);
  }
  return s;
}

Example TrainDataset::get(std::size_t i, Pipeline* augment) const {
  const IndexRow& r = rows_.at(i);
  try {
    Sample s = load(i);
    if (augment) (*augment)(s);
    return to_example(s, i);
  } catch (const core::Error&) {
    throw;  // names its file already
  } catch (const std::exception& e) {
    throw core::Error(core::at(path_of(r.image)) + e.what());
  }
}

Example TrainDataset::to_example(const Sample& s, std::size_t i) const {
  const int h = s.image.rows, w = s.image.cols;
  Example ex;
  ex.image = image_to_tensor(s.image, options_.channels, options_.normalize);
  ex.mask = torch::empty({1, h, w}, torch::kFloat32);
  cv::Mat mask_plane(h, w, CV_32F, ex.mask.data_ptr<float>());
  if (s.mask.empty()) {
    mask_plane.setTo(0);
  } else {
    if (s.mask.size() != s.image.size()) throw core::Error("dataset: mask and image sizes differ after augmentation");
    cv::Mat binary;
    cv::threshold(s.mask, binary, 127, 1, cv::THRESH_BINARY);
    binary.convertTo(mask_plane, CV_32F);
  }
  const IndexRow& r = rows_.at(i);
  ex.label = r.positive > 0 ? 1.0f : r.positive == 0 ? 0.0f : -1.0f;
  if (!targets_.empty()) {
    const std::vector<float>& t = targets_.at(i);
    ex.target = torch::empty({int64_t(t.size())}, torch::kFloat32);
    std::copy(t.begin(), t.end(), ex.target.data_ptr<float>());
  }
  return ex;
}

}  // namespace ptx::data

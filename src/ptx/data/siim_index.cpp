#include "ptx/data/siim_index.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "ptx/core/error.h"
#include "ptx/core/safe_name.h"
#include "ptx/core/strings.h"
#include "ptx/io/csv.h"

namespace ptx::data {
namespace fs = std::filesystem;


std::vector<std::string> find_files(const std::vector<std::string>& dirs, const std::vector<std::string>& extensions) {
  std::vector<std::string> files;
  for (const std::string& dir : dirs) {
    if (!fs::is_directory(dir)) throw core::Error(core::at(dir) + "not a folder; check the path");
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file()) continue;
      const std::string ext = core::lower(it->path().extension().string());
      if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<SourceImage> find_images(const std::vector<std::string>& dicom_dirs, const std::vector<std::string>& image_dirs) {
  std::vector<SourceImage> images;
  for (const auto& p : find_files(dicom_dirs, {".dcm"})) images.push_back({fs::path(p).stem().string(), p, true});
  for (const auto& p : find_files(image_dirs, {".png", ".jpg", ".jpeg"})) images.push_back({fs::path(p).stem().string(), p, false});
  std::sort(images.begin(), images.end(), [](const SourceImage& a, const SourceImage& b) { return a.image_id < b.image_id; });
  for (std::size_t i = 1; i < images.size(); ++i)
    if (images[i].image_id == images[i - 1].image_id)
      throw core::Error(core::at(images[i].path) + "ImageId '" + images[i].image_id + "' is also " + images[i - 1].path +
                        "; remove one of the two files");
  return images;
}

LabelMatch match_labels(const std::vector<SourceImage>& images, const io::LabelSet& labels) {
  LabelMatch m;
  std::unordered_map<std::string, bool> seen;
  for (const SourceImage& img : images) {
    if (labels.find(img.image_id)) {
      m.matched.push_back(img);
      seen[img.image_id] = true;
    } else {
      m.images_without_labels.push_back(img);
    }
  }
  for (const io::ImageLabels& l : labels.images)
    if (!seen.count(l.image_id)) m.labels_without_images.push_back(l.image_id);
  return m;
}

void check_label_ids_are_safe(const io::LabelSet& labels) {
  for (const io::ImageLabels& l : labels.images) {
    const std::string why = core::unsafe_reason(l.image_id);
    if (!why.empty())
      throw core::Error(core::at(labels.path, l.rows.front().line) + "ImageId cannot be used as a file name: " + why +
                        "; fix or remove this row");
  }
}

std::unordered_map<std::string, int> stratified_folds(const std::vector<std::string>& image_ids,
                                                      const std::vector<bool>& positive, int folds, uint64_t seed) {
  if (folds < 2) throw core::UsageError("--folds must be at least 2 (got " + std::to_string(folds) + ")");
  std::vector<std::string> groups[2];
  for (std::size_t i = 0; i < image_ids.size(); ++i) groups[positive[i] ? 1 : 0].push_back(image_ids[i]);
  std::mt19937_64 rng(seed);  // mt19937_64's sequence is fixed by the standard, unlike std::shuffle's use of it
  std::unordered_map<std::string, int> out;
  int next = 0;
  for (auto& group : {std::ref(groups[1]), std::ref(groups[0])}) {
    std::vector<std::string>& g = group.get();
    std::sort(g.begin(), g.end());
    for (std::size_t i = g.size(); i > 1; --i) std::swap(g[i - 1], g[rng() % i]);  // Fisher-Yates
    for (const auto& id : g) out[id] = next++ % folds;  // continuing the deal keeps fold sizes even
  }
  return out;
}

void write_folds_csv(const std::string& path, const std::unordered_map<std::string, int>& folds) {
  std::map<std::string, int> sorted(folds.begin(), folds.end());
  io::CsvWriter w(path, {"ImageId", "fold"});
  for (const auto& [id, fold] : sorted) w.row({id, std::to_string(fold)});
  w.commit();
}

std::unordered_map<std::string, int> read_folds_csv(const std::string& path) {
  io::CsvReader r(path);
  std::vector<std::string> f;
  std::unordered_map<std::string, int> out;
  while (r.next(f)) {
    if (r.line() == 1 && !f.empty() && f[0] == "ImageId") continue;
    if (f.size() < 2) throw core::Error(core::at(path, r.line()) + "expected ImageId,fold");
    try {
      out[f[0]] = std::stoi(f[1]);
    } catch (const std::exception&) {
      throw core::Error(core::at(path, r.line()) + "fold '" + f[1] + "' is not a number");
    }
  }
  return out;
}

}  // namespace ptx::data

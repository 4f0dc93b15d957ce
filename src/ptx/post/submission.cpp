#include "ptx/post/submission.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>

#include "ptx/core/error.h"
#include "ptx/core/parallel.h"
#include "ptx/core/progress.h"
#include "ptx/core/safe_name.h"
#include "ptx/io/csv.h"
#include "ptx/io/label_csv.h"
#include "ptx/io/rle.h"
#include "ptx/post/probability_map.h"

namespace fs = std::filesystem;

namespace ptx::post {

namespace {

std::vector<std::string> ids_of_sample(const std::string& path) {
  const io::LabelSet sample = io::read_label_csv(path);
  std::vector<std::string> ids;
  for (const auto& img : sample.images) {
    if (!core::is_safe_file_stem(img.image_id))
      throw core::Error(core::at(path, img.rows.front().line) + "ImageId '" + img.image_id +
                        "' cannot name a file: " + core::unsafe_reason(img.image_id));
    ids.push_back(img.image_id);
  }
  return ids;
}

}  // namespace

SubmissionSummary write_submission(const SubmissionOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!fs::is_directory(o.probabilities)) throw core::Error(o.probabilities + ": not a folder of probability maps");
  std::vector<std::string> ids;
  if (!o.sample_submission.empty()) {
    ids = ids_of_sample(o.sample_submission);
    std::vector<std::string> missing;
    for (const auto& id : ids)
      if (!fs::is_regular_file(fs::path(o.probabilities) / (id + ".png"))) missing.push_back(id);
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 3; ++i) list += (i ? ", " : "") + missing[i];
      throw core::Error(o.probabilities + ": no prediction for " + std::to_string(missing.size()) + " of " +
                        std::to_string(ids.size()) + " ImageIds of " + o.sample_submission + " (" + list +
                        "); predict every test image first");
    }
  } else {
    for (const auto& e : fs::directory_iterator(o.probabilities))
      if (e.is_regular_file() && e.path().extension() == ".png") ids.push_back(e.path().stem().string());
    std::sort(ids.begin(), ids.end());
    if (ids.empty()) throw core::Error(o.probabilities + ": no <ImageId>.png probability maps");
  }

  std::vector<std::string> rles(ids.size());
  std::atomic<std::size_t> positive{0};
  core::ProgressBar bar("submission", ids.size());
  bar.set_enabled(o.progress);
  core::parallel_for(ids.size(), o.threads, [&](std::size_t i) {
    const std::string path = (fs::path(o.probabilities) / (ids[i] + ".png")).string();
    const cv::Mat mask = apply_triplet(read_probability_map(path), o.triplet);
    rles[i] = cv::countNonZero(mask) ? io::rle_encode(mask) : "-1";
    if (rles[i] != "-1") ++positive;
    bar.tick();
  });
  bar.finish();
  io::CsvWriter csv(o.out, {"ImageId", "EncodedPixels"});
  for (std::size_t i = 0; i < ids.size(); ++i) csv.row({ids[i], rles[i]});
  csv.commit();
  return {ids.size(), positive.load(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace ptx::post

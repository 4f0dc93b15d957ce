#include "ptx/data/convert.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <opencv2/imgproc.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/parallel.h"
#include "ptx/core/progress.h"
#include "ptx/core/safe_name.h"
#include "ptx/data/index_csv.h"
#include "ptx/data/siim_index.h"
#include "ptx/io/csv.h"
#include "ptx/io/dicom.h"
#include "ptx/io/image.h"
#include "ptx/io/png_encode.h"

namespace ptx::data {
namespace fs = std::filesystem;

namespace {

// Our worker threads already fill the cores: OpenCV's own pool would only oversubscribe them.
class SingleThreadedOpenCV {
 public:
  SingleThreadedOpenCV() : saved_(cv::getNumThreads()) { cv::setNumThreads(1); }
  ~SingleThreadedOpenCV() { cv::setNumThreads(saved_); }

 private:
  int saved_;
};

struct Failure {
  std::string image_id, path, error;
};

void write_id_list(const std::string& path, const std::string& column, const std::vector<std::string>& ids) {
  io::CsvWriter w(path, {column});
  for (const auto& id : ids) w.row({id});
  w.commit();
}

cv::Mat resize_to(const cv::Mat& img, int size) {
  if (img.rows == size && img.cols == size) return img;
  cv::Mat out;
  cv::resize(img, out, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  return out;
}

}  // namespace

ConvertSummary convert_dataset(const ConvertOptions& o) {
  if (o.out.empty()) throw core::UsageError("--out is required");
  if (o.size < 16 || o.size > 8192) throw core::UsageError("--size must be between 16 and 8192 (got " + std::to_string(o.size) + ")");
  if (o.dicom_dirs.empty() && o.image_dirs.empty()) throw core::UsageError("give --dicom DIR or --images DIR");
  const auto start = std::chrono::steady_clock::now();
  const bool labelled = !o.labels.empty();
  const fs::path out(o.out);
  fs::create_directories(out / "images");
  if (labelled) fs::create_directories(out / "masks");
  for (const fs::path& folder : {out, out / "images", out / "masks"}) core::remove_stale_temporaries(folder);

  ConvertSummary summary;
  const std::vector<SourceImage> found = find_images(o.dicom_dirs, o.image_dirs);
  io::LabelSet labels;
  std::vector<SourceImage> work;
  if (labelled) {
    labels = io::read_label_csv(o.labels);
    check_label_ids_are_safe(labels);
    LabelMatch m = match_labels(found, labels);
    summary.images_without_labels = m.images_without_labels.size();
    summary.labels_without_images = m.labels_without_images.size();
    std::vector<std::string> unlabelled;
    for (const auto& s : m.images_without_labels) unlabelled.push_back(s.image_id);
    write_id_list((out / "unlabelled_images.csv").string(), "ImageId", unlabelled);
    write_id_list((out / "labels_without_images.csv").string(), "ImageId", m.labels_without_images);
    if (!unlabelled.empty())
      core::warn(std::to_string(unlabelled.size()) + " image(s) have no label row and were skipped (listed in " + (out / "unlabelled_images.csv").string() + ")");
    if (!m.labels_without_images.empty())
      core::warn(std::to_string(m.labels_without_images.size()) + " label ImageId(s) have no image (listed in " + (out / "labels_without_images.csv").string() + ")");
    work = std::move(m.matched);
  } else {
    work = found;
  }
  summary.images = work.size();
  if (work.empty()) throw core::Error(core::at(o.out) + "no images to convert; check --dicom/--images and that file names are <ImageId>.dcm/.png");

  // Positives are known from the labels before any pixel is read, so folds can be made first.
  std::unordered_map<std::string, int> folds;
  if (labelled) {
    std::vector<std::string> ids;
    std::vector<bool> positive;
    for (const auto& s : work) {
      ids.push_back(s.image_id);
      positive.push_back(labels.find(s.image_id)->positive());
    }
    const std::string folds_path = (out / "folds.csv").string();
    if (fs::exists(folds_path)) {
      folds = read_folds_csv(folds_path);
      for (const auto& id : ids)
        if (!folds.count(id))
          throw core::Error(core::at(folds_path) + "has no fold for ImageId " + id + "; delete it to split the data set anew");
      core::info("reusing folds from " + folds_path);
    } else {
      folds = stratified_folds(ids, positive, o.folds, o.seed);
      write_folds_csv(folds_path, folds);
    }
  }

  std::vector<IndexRow> rows(work.size());
  std::vector<char> ok(work.size(), 0);
  std::vector<Failure> failures;
  std::mutex failures_mutex;
  std::atomic<std::size_t> written{0}, skipped{0};
  core::ProgressBar bar("convert", work.size());
  if (!o.progress) bar.set_enabled(false);
  SingleThreadedOpenCV single;
  // Most images are negative: encode their all-zero mask once.
  const std::string empty_mask_png = labelled ? io::encode_png_gray(cv::Mat::zeros(o.size, o.size, CV_8UC1)) : "";

  auto convert_one = [&](std::size_t i) {
    const SourceImage& src = work[i];
    const std::string unsafe = core::unsafe_reason(src.image_id);
    if (!unsafe.empty()) throw core::Error(core::at(src.path) + "file name cannot be an ImageId: " + unsafe + "; rename the file");
    IndexRow& row = rows[i];
    row.image_id = src.image_id;
    row.image = "images/" + src.image_id + ".png";
    row.mask = labelled ? "masks/" + src.image_id + ".png" : "";
    row.fold = labelled ? folds.at(src.image_id) : -1;
    const fs::path image_out = out / row.image;
    const bool done = fs::exists(image_out) && (!labelled || fs::exists(out / row.mask));

    cv::Mat pixels;
    int width = 0, height = 0;
    if (src.is_dicom) {
      io::DicomMeta meta;
      if (done) {
        meta = io::read_dicom_meta(src.path);
      } else {
        io::DicomImage dcm = io::read_dicom(src.path, false);
        meta = dcm.meta;
        pixels = dcm.gray8;
      }
      width = meta.columns, height = meta.rows;
      row.age = meta.patient_age_years;
      row.sex = meta.patient_sex;
      row.view = meta.view_position;
    } else if (!done) {
      pixels = io::read_gray_image(src.path);
      width = pixels.cols, height = pixels.rows;
    }

    if (labelled) {
      const io::ImageLabels* l = labels.find(src.image_id);
      if (done && !src.is_dicom) {  // a plain image's size is needed to check its labels
        const cv::Mat probe = io::read_gray_image(src.path);
        width = probe.cols, height = probe.rows;
      }
      const io::Runs runs = labels.runs(*l, width, height);
      row.positive = runs.empty() ? 0 : 1;
      if (!done && runs.empty()) {
        core::write_file_atomic(out / row.mask, empty_mask_png);
      } else if (!done) {
        cv::Mat mask = resize_to(io::runs_to_mask(runs, width, height), o.size);
        cv::threshold(mask, mask, 127, 255, cv::THRESH_BINARY);  // area interpolation blurs edges
        io::write_png((out / row.mask).string(), mask);
      }
    }
    if (done) {
      ++skipped;
    } else {
      io::write_png(image_out.string(), resize_to(pixels, o.size));
      ++written;
    }
  };

  // A bad input is recorded and skipped; it never stops the others.
  core::parallel_for(work.size(), o.threads, [&](std::size_t i) {
    try {
      convert_one(i);
      ok[i] = 1;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(failures_mutex);
      failures.push_back({work[i].image_id, work[i].path, e.what()});
    }
    bar.tick();
  });
  bar.finish();

  std::vector<IndexRow> index;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (ok[i]) {
      index.push_back(std::move(rows[i]));
      summary.positives += index.back().positive == 1;
    }
  write_index_csv((out / "index.csv").string(), index);
  std::sort(failures.begin(), failures.end(), [](const Failure& a, const Failure& b) { return a.path < b.path; });
  io::CsvWriter errors((out / "errors.csv").string(), {"ImageId", "path", "error"});
  for (const auto& f : failures) {
    errors.row({f.image_id, f.path, f.error});
    core::warn("skipped " + f.error);
  }
  errors.commit();

  summary.written = written;
  summary.skipped_existing = skipped;
  summary.failed = failures.size();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace ptx::data

#include "ptx/predict/predict_files.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/progress.h"
#include "ptx/core/strings.h"
#include "ptx/io/csv.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/post/overlay.h"
#include "ptx/post/probability_map.h"

namespace fs = std::filesystem;

namespace ptx::predict {

namespace {

// A radiograph read by the reader thread, or why it could not be.
struct ReadResult {
  std::string path, error;
  Radiograph radiograph;
};

ReadResult read_input(const std::string& path) {
  ReadResult r;
  r.path = path;
  try {
    r.radiograph = read_radiograph(path);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

// Decodes files in order on its own thread, at most `ahead` images ahead of the consumer.
class Reader {
 public:
  Reader(std::vector<std::string> files, size_t ahead) : files_(std::move(files)), ahead_(ahead) {
    thread_ = std::thread([this] {
      for (const auto& f : files_) {
        ReadResult r = read_input(f);
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return queue_.size() < ahead_ || stop_; });
        if (stop_) return;
        queue_.push_back(std::move(r));
        ready_.notify_one();
      }
    });
  }
  ~Reader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }
  std::optional<ReadResult> next() {
    if (taken_ == files_.size()) return std::nullopt;
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty(); });
    ReadResult r = std::move(queue_.front());
    queue_.pop_front();
    ++taken_;
    space_.notify_one();
    return r;
  }

 private:
  std::vector<std::string> files_;
  size_t ahead_, taken_ = 0;
  std::deque<ReadResult> queue_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

PredictSummary predict_files(const Ensemble& segmenter, const Ensemble& classifier, const PredictOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (segmenter.empty()) throw core::UsageError("give at least one segmentation --checkpoint");
  const auto files = radiograph_files(o.inputs);
  fs::create_directories(fs::path(o.out) / "masks");
  if (o.save_probabilities) fs::create_directories(fs::path(o.out) / "probabilities");
  if (o.dicom_seg) fs::create_directories(fs::path(o.out) / "seg");
  if (o.dicom_sc) fs::create_directories(fs::path(o.out) / "sc");
  const fs::path out(o.out);
  for (const fs::path& folder : {out, out / "masks", out / "probabilities", out / "seg", out / "sc"})
    core::remove_stale_temporaries(folder);
  io::CsvWriter csv((fs::path(o.out) / "predictions.csv").string(),
                    {"ImageId", "probability", "area_pixels", "area_mm2", "EncodedPixels"});
  std::optional<io::CsvWriter> errors;
  auto error_row = [&](const std::string& path, const std::string& message) {
    if (!errors) errors.emplace((fs::path(o.out) / "errors.csv").string(), std::vector<std::string>{"path", "error"});
    errors->row({path, message});
  };
  PredictSummary s;
  core::ProgressBar bar("predict", files.size());
  bar.set_enabled(o.progress);
  Reader reader(files, 4);
  while (auto r = reader.next()) {
    bar.tick();
    if (r->error.empty()) {
      const Radiograph& in = r->radiograph;
      try {
        const auto p = predict_image(segmenter, classifier, in.gray, o.image);
        s.gated += p.gated;
        if (o.save_probabilities && !p.gated)
          post::write_probability_map((fs::path(o.out) / "probabilities" / (in.image_id + ".png")).string(),
                                      p.probabilities);
        io::write_png((fs::path(o.out) / "masks" / (in.image_id + ".png")).string(), p.mask);
        s.positive += p.area > 0;
        csv.row({in.image_id, core::fixed(p.probability, 6), std::to_string(p.area),
                 in.mm2_per_pixel > 0 ? core::fixed(p.area * in.mm2_per_pixel, 1) : "",
                 p.area ? io::rle_encode(p.mask) : "-1"});
        ++s.images;
        if ((o.dicom_seg || o.dicom_sc) && p.area > 0) {
          if (!in.meta) {
            ++s.dicom_skipped;
          } else {
            // A DICOM output that cannot be written does not undo the prediction: it is listed.
            try {
              if (o.dicom_seg) {
                io::write_dicom_seg((fs::path(o.out) / "seg" / (in.image_id + ".dcm")).string(), in.path, p.mask);
                ++s.dicom_seg;
              }
              if (o.dicom_sc) {
                io::write_dicom_sc((fs::path(o.out) / "sc" / (in.image_id + ".dcm")).string(), in.path,
                                   post::draw_overlay(in.gray, p.mask));
                ++s.dicom_sc;
              }
            } catch (const core::Error& e) {
              error_row(in.path, e.what());
              ++s.dicom_failed;
            }
          }
        }
        continue;
      } catch (const core::Error& e) {
        r->error = e.what();
      }
    }
    error_row(r->path, r->error);
    ++s.failed;
  }
  bar.finish();
  csv.commit();
  if (errors) errors->commit();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace ptx::predict

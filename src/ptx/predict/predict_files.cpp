#include "ptx/predict/predict_files.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "ptx/core/error.h"
#include "ptx/core/progress.h"
#include "ptx/core/safe_name.h"
#include "ptx/data/siim_index.h"
#include "ptx/io/csv.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/post/overlay.h"
#include "ptx/post/probability_map.h"

namespace fs = std::filesystem;

namespace ptx::predict {

namespace {

struct Radiograph {
  std::string path, image_id, error;
  cv::Mat gray;
  bool dicom = false;
  double mm2_per_pixel = 0;  // 0: unknown (no PixelSpacing)
};

Radiograph read_radiograph(const std::string& path) {
  Radiograph r;
  r.path = path;
  r.image_id = fs::path(path).stem().string();
  try {
    if (!core::is_safe_file_stem(r.image_id))
      throw core::Error("the file name cannot be an ImageId: " + core::unsafe_reason(r.image_id));
    std::string ext = fs::path(path).extension().string();
    for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == ".dcm") {
      r.dicom = true;
      auto d = io::read_dicom(path, /*with_float=*/false);
      r.gray = d.gray8;
      if (d.meta.pixel_spacing_row_mm && d.meta.pixel_spacing_col_mm)
        r.mm2_per_pixel = *d.meta.pixel_spacing_row_mm * *d.meta.pixel_spacing_col_mm;
    } else {
      r.gray = io::read_gray_image(path);
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

std::vector<std::string> input_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files, dirs;
  for (const auto& in : inputs) {
    if (fs::is_directory(in)) dirs.push_back(in);
    else if (fs::is_regular_file(in)) files.push_back(in);
    else throw core::Error(in + ": no such file or folder");
  }
  const auto found = data::find_files(dirs, {".dcm", ".png", ".jpg", ".jpeg"});
  files.insert(files.end(), found.begin(), found.end());
  if (files.empty()) throw core::Error("no DICOM, PNG or JPEG files in the inputs");
  return files;
}

// Decodes files in order on its own thread, at most `ahead` images ahead of the consumer.
class Reader {
 public:
  Reader(std::vector<std::string> files, size_t ahead) : files_(std::move(files)), ahead_(ahead) {
    thread_ = std::thread([this] {
      for (const auto& f : files_) {
        Radiograph r = read_radiograph(f);
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
  std::optional<Radiograph> next() {
    if (taken_ == files_.size()) return std::nullopt;
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty(); });
    Radiograph r = std::move(queue_.front());
    queue_.pop_front();
    ++taken_;
    space_.notify_one();
    return r;
  }

 private:
  std::vector<std::string> files_;
  size_t ahead_, taken_ = 0;
  std::deque<Radiograph> queue_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  bool stop_ = false;
  std::thread thread_;
};

std::string format(double v, const char* f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

}  // namespace

PredictSummary predict_files(const Ensemble& segmenter, const Ensemble& classifier, const PredictOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (segmenter.empty()) throw core::UsageError("give at least one segmentation --checkpoint");
  const auto files = input_files(o.inputs);
  fs::create_directories(fs::path(o.out) / "masks");
  if (o.save_probabilities) fs::create_directories(fs::path(o.out) / "probabilities");
  if (o.dicom_seg) fs::create_directories(fs::path(o.out) / "seg");
  if (o.dicom_sc) fs::create_directories(fs::path(o.out) / "sc");
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
      try {
        double probability = 0;
        cv::Mat mask;
        const bool gated = !classifier.empty() && (probability = classifier.classify(r->gray, o.hflip)) < o.gate;
        if (gated) {
          mask = cv::Mat::zeros(r->gray.size(), CV_8U);
          ++s.gated;
        } else {
          const cv::Mat p = segmenter.segment(r->gray, o.hflip);
          if (classifier.empty()) cv::minMaxLoc(p, nullptr, &probability);
          mask = post::apply_triplet(p, o.triplet);
          if (o.save_probabilities)
            post::write_probability_map((fs::path(o.out) / "probabilities" / (r->image_id + ".png")).string(), p);
        }
        io::write_png((fs::path(o.out) / "masks" / (r->image_id + ".png")).string(), mask);
        const int area = cv::countNonZero(mask);
        s.positive += area > 0;
        csv.row({r->image_id, format(probability, "%.6f"), std::to_string(area),
                 r->mm2_per_pixel > 0 ? format(area * r->mm2_per_pixel, "%.1f") : "", area ? io::rle_encode(mask) : "-1"});
        ++s.images;
        if ((o.dicom_seg || o.dicom_sc) && area > 0) {
          if (!r->dicom) {
            ++s.dicom_skipped;
          } else {
            // A DICOM output that cannot be written does not undo the prediction: it is listed.
            try {
              if (o.dicom_seg) {
                io::write_dicom_seg((fs::path(o.out) / "seg" / (r->image_id + ".dcm")).string(), r->path, mask);
                ++s.dicom_seg;
              }
              if (o.dicom_sc) {
                io::write_dicom_sc((fs::path(o.out) / "sc" / (r->image_id + ".dcm")).string(), r->path,
                                   post::draw_overlay(r->gray, mask));
                ++s.dicom_sc;
              }
            } catch (const core::Error& e) {
              error_row(r->path, e.what());
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

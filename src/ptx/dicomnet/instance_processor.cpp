#include "ptx/dicomnet/instance_processor.h"

#include <opencv2/imgproc.hpp>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/core/utc_time.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/post/overlay.h"
#include "ptx/predict/radiograph.h"

namespace ptx::dicomnet {

namespace fs = std::filesystem;

namespace {

// The radiograph with a banner that says nothing was found, for --report-negatives: a reader of the
// PACS sees that ptx looked at the image, not only that no SEG arrived.
cv::Mat negative_report_picture(const cv::Mat& gray) {
  cv::Mat picture;
  cv::cvtColor(gray, picture, cv::COLOR_GRAY2BGR);
  const double scale = std::max(0.5, picture.cols / 1024.0);
  const int banner = static_cast<int>(48 * scale);
  cv::rectangle(picture, {0, 0, picture.cols, banner}, {0, 0, 0}, cv::FILLED);
  cv::putText(picture, "ptx: no pneumothorax found (research use only)", {static_cast<int>(12 * scale), static_cast<int>(34 * scale)},
              cv::FONT_HERSHEY_SIMPLEX, 0.9 * scale, {255, 255, 255}, std::max(1, static_cast<int>(2 * scale)), cv::LINE_AA);
  return picture;
}

void predict_into(const Models& models, const predict::Radiograph& in, const fs::path& out_dir,
                  const ProcessOptions& options, InstanceRecord& record) {
  const auto p = predict::predict_image(models.segmenter, models.classifier, in.gray, options.image);
  record.status = p.area > 0 ? "positive" : "negative";
  record.probability = p.probability;
  record.area_pixels = p.area;
  if (in.mm2_per_pixel > 0) record.area_mm2 = p.area * in.mm2_per_pixel;
  record.width = in.gray.cols;
  record.height = in.gray.rows;
  const auto keep = [&](const std::string& name) { record.files.push_back(name); return (out_dir / name).string(); };
  io::write_png(keep("mask.png"), p.mask);
  const cv::Mat overlay = post::draw_overlay(in.gray, p.mask);
  io::write_png(keep("overlay.png"), overlay);
  core::write_file_atomic(keep("mask.rle.txt"), (p.area ? io::rle_encode(p.mask) : "-1") + "\n");
  const std::string source = in.path;
  if (p.area > 0) {
    io::write_dicom_seg(keep("seg.dcm"), source, p.mask);
    if (options.sc) io::write_dicom_sc(keep("sc.dcm"), source, overlay);
  } else if (options.report_negatives) {
    io::write_dicom_sc(keep("sc.dcm"), source, negative_report_picture(in.gray));
  }
}

}  // namespace

void process_instance(const Models& models, const fs::path& source, const fs::path& out_dir, const ProcessOptions& options,
                      InstanceRecord& record) {
  fs::create_directories(out_dir);
  try {
    const io::DicomMeta meta = io::read_dicom_meta(source.string());
    record.study_instance_uid = meta.study_instance_uid;
    record.series_instance_uid = meta.series_instance_uid;
    record.sop_instance_uid = meta.sop_instance_uid;
    record.modality = meta.modality;
    const auto warnings = io::chest_radiograph_warnings(meta);
    if (!warnings.empty()) {
      record.status = "skipped";
      record.reason = "not a chest radiograph: " + core::join(warnings, "; ");
    } else {
      predict_into(models, predict::read_radiograph(source.string()), out_dir, options, record);
    }
  } catch (const std::exception& e) {
    record.status = "error";
    record.reason = e.what();
    record.files.clear();
  }
  record.finished = core::utc_now();
}

}  // namespace ptx::dicomnet

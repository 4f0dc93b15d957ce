// `ptx predict`: radiographs (DICOM or PNG/JPEG, files or folders) to masks, probability maps and
// predictions.csv, streaming: a reader thread decodes the next images while the models run on the
// current one, and memory does not grow with the number of images. An unreadable input is listed
// in errors.csv and the rest continue.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ptx/predict/ensemble.h"
#include "ptx/predict/predict_image.h"
#include "ptx/predict/radiograph.h"

namespace ptx::predict {

struct PredictOptions {
  std::vector<std::string> inputs;  // files or folders (searched recursively for .dcm .png .jpg .jpeg)
  std::string out;
  ImagePredictionOptions image;     // flip TTA, triplet, classifier gate
  bool save_probabilities = false;  // <out>/probabilities/<ImageId>.png (16-bit)
  // For each DICOM input with a non-empty mask: <out>/seg/<ImageId>.dcm, a binary DICOM
  // Segmentation, and <out>/sc/<ImageId>.dcm, a Secondary Capture of the overlay (io/dicom_seg.h).
  // Other inputs have no DICOM context: they are counted in PredictSummary::dicom_skipped.
  bool dicom_seg = false, dicom_sc = false;
  bool progress = false;
};

struct PredictSummary {
  std::size_t images = 0, positive = 0, gated = 0, failed = 0;
  std::size_t dicom_seg = 0, dicom_sc = 0;  // DICOM objects written
  std::size_t dicom_skipped = 0;            // positive non-DICOM inputs (no SEG/SC possible)
  std::size_t dicom_failed = 0;             // SEG/SC writes that failed (listed in errors.csv)
  double seconds = 0;
};

// Writes <out>/masks/<ImageId>.png (0/255 at the image's own size), <out>/predictions.csv
// (ImageId, probability, area_pixels, area_mm2, EncodedPixels) and <out>/errors.csv when any input
// failed (an input that failed, or a DICOM output that could not be written). The probability is the classifier ensemble's when `classifier` is not empty, else the
// highest pixel probability of the map. ImageIds are file stems (a DICOM's is its
// SOPInstanceUID); one that cannot name a file is an error of that input.
PredictSummary predict_files(const Ensemble& segmenter, const Ensemble& classifier, const PredictOptions& options);

}  // namespace ptx::predict

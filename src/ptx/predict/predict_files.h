// `ptx predict`: radiographs (DICOM or PNG/JPEG, files or folders) to masks, probability maps and
// predictions.csv, streaming: a reader thread decodes the next images while the models run on the
// current one, and memory does not grow with the number of images. An unreadable input is listed
// in errors.csv and the rest continue.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ptx/post/triplet.h"
#include "ptx/predict/ensemble.h"

namespace ptx::predict {

struct PredictOptions {
  std::vector<std::string> inputs;  // files or folders (searched recursively for .dcm .png .jpg .jpeg)
  std::string out;
  bool hflip = true;                // flip TTA
  post::Triplet triplet;            // mask post-processing
  double gate = 0.5;                // with classifiers: images below this probability are empty
  bool save_probabilities = false;  // <out>/probabilities/<ImageId>.png (16-bit)
  bool progress = false;
};

struct PredictSummary {
  std::size_t images = 0, positive = 0, gated = 0, failed = 0;
  double seconds = 0;
};

// Writes <out>/masks/<ImageId>.png (0/255 at the image's own size), <out>/predictions.csv
// (ImageId, probability, area_pixels, area_mm2, EncodedPixels) and <out>/errors.csv when any input
// failed. The probability is the classifier ensemble's when `classifier` is not empty, else the
// highest pixel probability of the map. ImageIds are file stems (a DICOM's is its
// SOPInstanceUID); one that cannot name a file is an error of that input.
PredictSummary predict_files(const Ensemble& segmenter, const Ensemble& classifier, const PredictOptions& options);

}  // namespace ptx::predict

// One radiograph through the models: the classifier gate, the segmentation ensemble and the
// triplet. The one implementation behind `ptx predict` (a folder at a time) and `ptx serve` (an
// upload at a time).
#pragma once
#include <opencv2/core.hpp>

#include "ptx/post/triplet.h"
#include "ptx/predict/ensemble.h"

namespace ptx::predict {

struct ImagePredictionOptions {
  bool hflip = true;      // flip TTA
  post::Triplet triplet;  // mask post-processing
  double gate = 0.5;      // with a classifier: images below this probability are empty
};

struct ImagePrediction {
  // The classifier ensemble's probability when there is one, else the map's highest pixel.
  double probability = 0;
  bool gated = false;         // the classifier found the image below the gate: not segmented
  cv::Mat probabilities;      // CV_32F at the image's size; empty when gated
  cv::Mat mask;               // CV_8U 0/255 at the image's size
  int area = 0;               // mask pixels
};

// gray: CV_8UC1 at the image's own size. classifier may be empty (no gate).
ImagePrediction predict_image(const Ensemble& segmenter, const Ensemble& classifier, const cv::Mat& gray,
                              const ImagePredictionOptions& options);

}  // namespace ptx::predict

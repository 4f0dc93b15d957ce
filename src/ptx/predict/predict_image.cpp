#include "ptx/predict/predict_image.h"

namespace ptx::predict {

ImagePrediction predict_image(const Ensemble& segmenter, const Ensemble& classifier, const cv::Mat& gray,
                              const ImagePredictionOptions& o) {
  ImagePrediction r;
  if (!classifier.empty()) {
    r.probability = classifier.classify(gray, o.hflip);
    r.gated = r.probability < o.gate;
  }
  if (r.gated) {
    r.mask = cv::Mat::zeros(gray.size(), CV_8U);
    return r;
  }
  r.probabilities = segmenter.segment(gray, o.hflip);
  if (classifier.empty()) cv::minMaxLoc(r.probabilities, nullptr, &r.probability);
  r.mask = post::apply_triplet(r.probabilities, o.triplet);
  r.area = cv::countNonZero(r.mask);
  return r;
}

}  // namespace ptx::predict

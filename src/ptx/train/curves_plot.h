// The training curves as a picture: losses (train and validation) on the left, the validation
// score on the right, against the epoch. Written next to the checkpoints every epoch and shown in
// the demo report.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace ptx::train {

struct Curve {
  std::string name;
  std::vector<double> values;  // one per epoch (1, 2, ...)
  cv::Scalar colour;           // BGR
};

// Two panels of `panel_width` x `height` pixels, each scaled to its own curves' range.
cv::Mat plot_curves(const std::vector<Curve>& left, const std::string& left_title, const std::vector<Curve>& right,
                    const std::string& right_title, int panel_width = 420, int height = 300);

}  // namespace ptx::train

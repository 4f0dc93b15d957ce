// Pictures of predictions: a radiograph with a predicted mask drawn as a filled translucent region
// with its contour, and the ground truth (when known) as a contour in another colour; several
// models side by side under titles. Used by `ptx overlay`, the Secondary Capture of
// `ptx predict --dicom-sc`, and meant for the HTML report.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace ptx::post {

struct OverlayStyle {
  cv::Scalar prediction{40, 40, 255};  // BGR: red fill and contour
  cv::Scalar truth{60, 220, 60};       // BGR: green contour (and a light fill)
  double fill_alpha = 0.35;            // opacity of the prediction's fill
  double truth_fill_alpha = 0.0;       // opacity of the truth's fill (0: contour only)
  int thickness = 0;                   // contour width in pixels; 0: about 1/256 of the image side, at least 1
};

// The picture (CV_8UC3, BGR) of gray (CV_8UC1 or CV_8UC3) with mask and truth (CV_8UC1, nonzero =
// pneumothorax; empty Mats are not drawn; other sizes are resized to the image with nearest
// neighbour). Throws core::Error for other types.
cv::Mat draw_overlay(const cv::Mat& gray, const cv::Mat& mask, const cv::Mat& truth = {}, const OverlayStyle& style = {});

// The per-image Dice of the challenge: 1 when both masks are empty. Masks of the same size.
double mask_dice(const cv::Mat& a, const cv::Mat& b);

// Pictures (CV_8UC3) side by side, each under a title bar with its text, on a dark background;
// panels of different heights are top-aligned. Titles may be fewer than panels (the rest get none).
cv::Mat side_by_side(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles);

// One comparison figure: for each model a panel draw_overlay(gray, masks[i], truth), titled
// titles[i] (plus "Dice d.dd" when truth is given). width > 0 scales each panel to that width
// first (masks with nearest neighbour). masks and titles have the same length (titles may be empty).
cv::Mat render_comparison(const cv::Mat& gray, const std::vector<cv::Mat>& masks, const std::vector<std::string>& titles,
                          const cv::Mat& truth = {}, int width = 0, const OverlayStyle& style = {});

}  // namespace ptx::post

#include "ptx/post/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "ptx/core/error.h"

namespace ptx::post {

namespace {

// mask as CV_8U 0/255 at `size` (empty stays empty).
cv::Mat binary_at(const cv::Mat& mask, cv::Size size, const char* what) {
  if (mask.empty()) return {};
  if (mask.type() != CV_8UC1) throw core::Error(std::string("overlay: the ") + what + " must be an 8-bit single-channel mask");
  cv::Mat m = mask;
  if (m.size() != size) cv::resize(mask, m, size, 0, 0, cv::INTER_NEAREST);
  cv::Mat out;
  cv::compare(m, 0, out, cv::CMP_GT);
  return out;
}

void fill(cv::Mat& bgr, const cv::Mat& mask, const cv::Scalar& colour, double alpha) {
  if (alpha <= 0) return;
  cv::Mat blended;
  cv::addWeighted(bgr, 1.0 - alpha, cv::Mat(bgr.size(), CV_8UC3, colour), alpha, 0.0, blended);
  blended.copyTo(bgr, mask);
}

void outline(cv::Mat& bgr, const cv::Mat& mask, const cv::Scalar& colour, int thickness) {
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask.clone(), contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  cv::drawContours(bgr, contours, -1, colour, thickness, cv::LINE_8);
}

}  // namespace

cv::Mat draw_overlay(const cv::Mat& gray, const cv::Mat& mask, const cv::Mat& truth, const OverlayStyle& style) {
  if (gray.empty() || gray.depth() != CV_8U || (gray.channels() != 1 && gray.channels() != 3))
    throw core::Error("overlay: the image must be 8-bit grey or BGR");
  cv::Mat out;
  if (gray.channels() == 1) cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR);
  else out = gray.clone();
  const cv::Mat m = binary_at(mask, gray.size(), "mask"), t = binary_at(truth, gray.size(), "truth");
  const int thickness = style.thickness > 0 ? style.thickness
                                            : std::max(1, int(std::lround(std::min(gray.rows, gray.cols) / 256.0)));
  if (!t.empty()) fill(out, t, style.truth, style.truth_fill_alpha);
  if (!m.empty()) {
    fill(out, m, style.prediction, style.fill_alpha);
    outline(out, m, style.prediction, thickness);
  }
  // The truth's contour last, so it stays visible where both agree.
  if (!t.empty()) outline(out, t, style.truth, thickness);
  return out;
}

double mask_dice(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size()) throw core::Error("mask_dice: masks of different sizes");
  cv::Mat ab, bb, both;
  cv::compare(a, 0, ab, cv::CMP_GT);
  cv::compare(b, 0, bb, cv::CMP_GT);
  const int na = cv::countNonZero(ab), nb = cv::countNonZero(bb);
  if (na + nb == 0) return 1.0;
  cv::bitwise_and(ab, bb, both);
  return 2.0 * cv::countNonZero(both) / double(na + nb);
}

cv::Mat side_by_side(const std::vector<cv::Mat>& panels, const std::vector<std::string>& titles) {
  if (panels.empty()) throw core::Error("side_by_side: no panels");
  const int gap = 4;
  int width = gap, height = 0;
  for (const auto& p : panels) {
    if (p.type() != CV_8UC3) throw core::Error("side_by_side: panels must be BGR images");
    width += p.cols + gap;
    height = std::max(height, p.rows);
  }
  bool any_title = false;
  for (const auto& t : titles) any_title |= !t.empty();
  int min_width = panels.front().cols;
  for (const auto& p : panels) min_width = std::min(min_width, p.cols);
  const int bar = any_title ? std::clamp(min_width / 14, 16, 48) : 0;
  const double base_scale = bar / 32.0;
  cv::Mat out(height + bar + 2 * gap, width, CV_8UC3, cv::Scalar(32, 32, 32));
  int x = gap;
  for (size_t i = 0; i < panels.size(); ++i) {
    const auto& p = panels[i];
    p.copyTo(out(cv::Rect(x, gap + bar, p.cols, p.rows)));
    if (i < titles.size() && !titles[i].empty()) {
      double scale = base_scale;
      int baseline = 0;
      cv::Size ts = cv::getTextSize(titles[i], cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
      if (ts.width > p.cols - 4) {  // shrink long titles to the panel's width
        scale *= double(p.cols - 4) / ts.width;
        ts = cv::getTextSize(titles[i], cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
      }
      const cv::Point org(x + std::max(0, (p.cols - ts.width) / 2), gap + (bar + ts.height) / 2);
      cv::putText(out, titles[i], org, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    }
    x += p.cols + gap;
  }
  return out;
}

cv::Mat render_comparison(const cv::Mat& gray, const std::vector<cv::Mat>& masks, const std::vector<std::string>& titles,
                          const cv::Mat& truth, int width, const OverlayStyle& style) {
  if (!titles.empty() && titles.size() != masks.size())
    throw core::Error("render_comparison: " + std::to_string(masks.size()) + " masks but " +
                      std::to_string(titles.size()) + " titles");
  cv::Mat image = gray;
  if (width > 0 && width != gray.cols) {
    const int height = std::max(1, int(std::lround(double(gray.rows) * width / gray.cols)));
    cv::resize(gray, image, cv::Size(width, height), 0, 0, width < gray.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const cv::Mat t = binary_at(truth, image.size(), "truth");
  std::vector<cv::Mat> panels;
  std::vector<std::string> names;
  if (masks.empty()) {  // the image with the truth alone
    panels.push_back(draw_overlay(image, {}, t, style));
    names.push_back(t.empty() ? "" : "truth");
  }
  for (size_t i = 0; i < masks.size(); ++i) {
    const cv::Mat m = binary_at(masks[i], image.size(), "mask");
    panels.push_back(draw_overlay(image, m, t, style));
    std::string title = i < titles.size() ? titles[i] : "";
    if (!t.empty()) {
      // Dice on the masks as given (at the image's own size), not on the scaled panel.
      const cv::Mat full_truth = binary_at(truth, gray.size(), "truth");
      const cv::Mat full_mask = masks[i].empty() ? cv::Mat(cv::Mat::zeros(gray.size(), CV_8U)) : binary_at(masks[i], gray.size(), "mask");
      char buf[32];
      std::snprintf(buf, sizeof buf, "Dice %.2f", mask_dice(full_mask, full_truth));
      title += title.empty() ? buf : std::string("  ") + buf;
    }
    names.push_back(title);
  }
  return side_by_side(panels, names);
}

}  // namespace ptx::post

#include "ptx/train/curves_plot.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ptx::train {

namespace {

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.4, cv::Scalar colour = {60, 60, 60}) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

void draw_panel(cv::Mat panel, const std::vector<Curve>& curves, const std::string& title) {
  const int left = 48, right = 12, top = 28, bottom = 30;
  const cv::Rect plot(left, top, panel.cols - left - right, panel.rows - top - bottom);
  text(panel, title, {left, 18}, 0.5, {0, 0, 0});
  cv::rectangle(panel, plot, {180, 180, 180});
  double lo = INFINITY, hi = -INFINITY;
  size_t epochs = 0;
  for (const auto& c : curves)
    for (double v : c.values)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        epochs = std::max(epochs, c.values.size());
      }
  if (epochs == 0) return;
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const auto x_of = [&](size_t i) {
    return plot.x + (epochs == 1 ? plot.width / 2 : static_cast<int>(std::lround(double(i) * plot.width / double(epochs - 1))));
  };
  const auto y_of = [&](double v) { return plot.y + plot.height - static_cast<int>(std::lround((v - lo) / (hi - lo) * plot.height)); };
  text(panel, number(hi), {4, plot.y + 4});
  text(panel, number(lo), {4, plot.y + plot.height});
  text(panel, "1", {plot.x - 3, plot.y + plot.height + 14});
  text(panel, std::to_string(epochs), {plot.x + plot.width - 8, plot.y + plot.height + 14});
  text(panel, "epoch", {plot.x + plot.width / 2 - 16, plot.y + plot.height + 24});
  int legend_y = plot.y + 14;
  for (const auto& c : curves) {
    for (size_t i = 0; i < c.values.size(); ++i) {
      if (!std::isfinite(c.values[i])) continue;
      const cv::Point p(x_of(i), y_of(c.values[i]));
      cv::circle(panel, p, 2, c.colour, cv::FILLED, cv::LINE_AA);
      if (i > 0 && std::isfinite(c.values[i - 1])) cv::line(panel, {x_of(i - 1), y_of(c.values[i - 1])}, p, c.colour, 2, cv::LINE_AA);
    }
    cv::line(panel, {plot.x + plot.width - 110, legend_y - 4}, {plot.x + plot.width - 90, legend_y - 4}, c.colour, 2);
    text(panel, c.name, {plot.x + plot.width - 85, legend_y});
    legend_y += 16;
  }
}

}  // namespace

cv::Mat plot_curves(const std::vector<Curve>& left, const std::string& left_title, const std::vector<Curve>& right,
                    const std::string& right_title, int panel_width, int height) {
  cv::Mat img(height, 2 * panel_width, CV_8UC3, cv::Scalar(255, 255, 255));
  draw_panel(img(cv::Rect(0, 0, panel_width, height)), left, left_title);
  draw_panel(img(cv::Rect(panel_width, 0, panel_width, height)), right, right_title);
  return img;
}

}  // namespace ptx::train

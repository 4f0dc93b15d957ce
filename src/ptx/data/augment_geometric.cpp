// Geometric transforms: one draw moves image (linear interpolation) and mask (nearest) together.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "ptx/data/augment_transforms.h"
#include "ptx/data/seed.h"

namespace ptx::data {

int cv_border(Border border) {
  switch (border) {
    case Border::constant: return cv::BORDER_CONSTANT;
    case Border::reflect: return cv::BORDER_REFLECT_101;
    case Border::replicate: return cv::BORDER_REPLICATE;
  }
  return cv::BORDER_CONSTANT;
}

namespace {

// x (or y) coordinate of every pixel, CV_32F.
cv::Mat coordinate_grid(cv::Size size, bool x) {
  if (x) {
    cv::Mat row(1, size.width, CV_32F);
    for (int i = 0; i < size.width; ++i) row.at<float>(0, i) = float(i);
    return cv::repeat(row, size.height, 1);
  }
  cv::Mat col(size.height, 1, CV_32F);
  for (int i = 0; i < size.height; ++i) col.at<float>(i, 0) = float(i);
  return cv::repeat(col, 1, size.width);
}

// The image through the maps (linear), the mask too (nearest, outside = 0).
void remap_sample(Sample& s, const cv::Mat& map_x, const cv::Mat& map_y, Border border, int value) {
  cv::Mat out;
  cv::remap(s.image, out, map_x, map_y, cv::INTER_LINEAR, cv_border(border), cv::Scalar::all(value));
  s.image = out;
  if (!s.mask.empty()) {
    cv::Mat m;
    cv::remap(s.mask, m, map_x, map_y, cv::INTER_NEAREST, cv_border(border), cv::Scalar::all(0));
    s.mask = m;
  }
}

void resize_sample(Sample& s, cv::Size size) {
  if (s.image.size() == size) return;
  const bool down = size.width <= s.image.cols && size.height <= s.image.rows;
  cv::Mat out;
  cv::resize(s.image, out, size, 0, 0, down ? cv::INTER_AREA : cv::INTER_LINEAR);
  s.image = out;
  if (!s.mask.empty()) {
    cv::Mat m;
    cv::resize(s.mask, m, size, 0, 0, cv::INTER_NEAREST);
    s.mask = m;
  }
}

// Source coordinate of every destination position along one axis of n pixels cut into
// scales.size() cells: cell i is stretched by scales[i]; the last cell ends at the last pixel.
cv::Mat grid_axis(int n, const std::vector<double>& scales) {
  cv::Mat out(1, n, CV_32F);
  const int steps = int(scales.size());
  double prev = 0;
  for (int i = 0; i < steps; ++i) {
    const int start = int(int64_t(i) * n / steps), end = int(int64_t(i + 1) * n / steps);
    if (end <= start) continue;
    const bool last = i == steps - 1;
    const double cur = last ? n - 1 : prev + (end - start) * scales[i];
    const double span = last ? std::max(1, end - start - 1) : end - start;
    for (int j = start; j < end; ++j) out.at<float>(0, j) = float(prev + (cur - prev) * (j - start) / span);
    prev = cur;
  }
  return out;
}

}  // namespace

void HorizontalFlip::transform(Sample& s) const {
  cv::flip(s.image, s.image, 1);
  if (!s.mask.empty()) cv::flip(s.mask, s.mask, 1);
}

void VerticalFlip::transform(Sample& s) const {
  cv::flip(s.image, s.image, 0);
  if (!s.mask.empty()) cv::flip(s.mask, s.mask, 0);
}

void ShiftScaleRotate::draw(cv::Size) {
  dx_ = uniform(shift_.lo, shift_.hi);
  dy_ = uniform(shift_.lo, shift_.hi);
  factor_ = 1 + uniform(scale_.lo, scale_.hi);
  angle_ = uniform(rotate_.lo, rotate_.hi);
}

void ShiftScaleRotate::transform(Sample& s) const {
  const cv::Size size = s.image.size();
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f((size.width - 1) * 0.5f, (size.height - 1) * 0.5f), angle_, factor_);
  m.at<double>(0, 2) += dx_ * size.width;
  m.at<double>(1, 2) += dy_ * size.height;
  cv::Mat out;
  cv::warpAffine(s.image, out, m, size, cv::INTER_LINEAR, cv_border(border_), cv::Scalar::all(value_));
  s.image = out;
  if (!s.mask.empty()) {
    cv::Mat mo;
    cv::warpAffine(s.mask, mo, m, size, cv::INTER_NEAREST, cv_border(border_), cv::Scalar::all(0));
    s.mask = mo;
  }
}

void Elastic::draw(cv::Size) { field_seed_ = rng_(); }

void Elastic::transform(Sample& s) const {
  const cv::Size size = s.image.size();
  cv::RNG rng(field_seed_);
  cv::Mat dx(size, CV_32F), dy(size, CV_32F);
  rng.fill(dx, cv::RNG::UNIFORM, -1.0, 1.0);
  rng.fill(dy, cv::RNG::UNIFORM, -1.0, 1.0);
  cv::GaussianBlur(dx, dx, cv::Size(0, 0), sigma_, sigma_, cv::BORDER_REFLECT_101);
  cv::GaussianBlur(dy, dy, cv::Size(0, 0), sigma_, sigma_, cv::BORDER_REFLECT_101);
  const cv::Mat map_x = coordinate_grid(size, true) + dx * alpha_;
  const cv::Mat map_y = coordinate_grid(size, false) + dy * alpha_;
  remap_sample(s, map_x, map_y, border_, value_);
}

void GridDistortion::draw(cv::Size) {
  xsteps_.resize(steps_);
  ysteps_.resize(steps_);
  for (double& v : xsteps_) v = 1 + uniform(distort_.lo, distort_.hi);
  for (double& v : ysteps_) v = 1 + uniform(distort_.lo, distort_.hi);
}

void GridDistortion::transform(Sample& s) const {
  const cv::Size size = s.image.size();
  const cv::Mat map_x = cv::repeat(grid_axis(size.width, xsteps_), size.height, 1);
  const cv::Mat map_y = cv::repeat(grid_axis(size.height, ysteps_).t(), 1, size.width);
  remap_sample(s, map_x, map_y, border_, value_);
}

void OpticalDistortion::draw(cv::Size) {
  k_ = uniform(distort_.lo, distort_.hi);
  dx_ = uniform(shift_.lo, shift_.hi);
  dy_ = uniform(shift_.lo, shift_.hi);
}

void OpticalDistortion::transform(Sample& s) const {
  // The undistortion map of a camera with focal lengths (width, height), principal point at the
  // shifted centre and radial coefficients k1 = k2 = k (what cv::initUndistortRectifyMap computes
  // for an identity rotation), written with matrix expressions.
  const cv::Size size = s.image.size();
  const double fx = size.width, fy = size.height;
  const double cx = size.width * 0.5 + dx_ * size.width, cy = size.height * 0.5 + dy_ * size.height;
  const cv::Mat xn = (coordinate_grid(size, true) - cx) / fx;
  const cv::Mat yn = (coordinate_grid(size, false) - cy) / fy;
  const cv::Mat r2 = xn.mul(xn) + yn.mul(yn);
  const cv::Mat factor = 1 + k_ * r2 + k_ * r2.mul(r2);
  const cv::Mat map_x = xn.mul(factor) * fx + cx;
  const cv::Mat map_y = yn.mul(factor) * fy + cy;
  remap_sample(s, map_x, map_y, border_, value_);
}

void RandomSizedCrop::draw(cv::Size size) {
  const int h = std::clamp(int(std::lround(uniform(scale_.lo, scale_.hi) * size.height)), 1, size.height);
  const int w = std::clamp(int(std::lround(h * uniform(ratio_.lo, ratio_.hi))), 1, size.width);
  const int x = int(uniform_int(rng_, 0, size.width - w)), y = int(uniform_int(rng_, 0, size.height - h));
  crop_ = cv::Rect(x, y, w, h);
}

void RandomSizedCrop::transform(Sample& s) const {
  const cv::Size size = s.image.size();
  const cv::Rect crop = crop_ & cv::Rect(0, 0, size.width, size.height);
  if (crop.empty()) return;
  cv::Mat out;
  cv::resize(s.image(crop), out, size, 0, 0, cv::INTER_LINEAR);
  s.image = out;
  if (!s.mask.empty()) {
    cv::Mat m;
    cv::resize(s.mask(crop), m, size, 0, 0, cv::INTER_NEAREST);
    s.mask = m;
  }
}

void Resize::transform(Sample& s) const { resize_sample(s, cv::Size(width_, height_)); }

}  // namespace ptx::data

// Photometric transforms and coarse dropout: they change the image's pixels, never the mask.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "ptx/data/augment_transforms.h"
#include "ptx/data/seed.h"

namespace ptx::data {

void Brightness::transform(Sample& s) const { s.image.convertTo(s.image, -1, 1.0, beta_ * 255.0); }

void Contrast::transform(Sample& s) const { s.image.convertTo(s.image, -1, alpha_, 0.0); }

void Gamma::transform(Sample& s) const {
  cv::Mat lut(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) lut.at<uchar>(0, i) = cv::saturate_cast<uchar>(255.0 * std::pow(i / 255.0, g_));
  cv::LUT(s.image, lut, s.image);
}

void Clahe::transform(Sample& s) const {
  cv::Ptr<cv::CLAHE> clahe = cv::createCLAHE(clip_limit_, cv::Size(tiles_, tiles_));
  if (s.image.channels() == 1) {
    cv::Mat out;
    clahe->apply(s.image, out);
    s.image = out;
    return;
  }
  cv::Mat lab;
  cv::cvtColor(s.image, lab, cv::COLOR_RGB2Lab);
  std::vector<cv::Mat> planes;
  cv::split(lab, planes);
  clahe->apply(planes[0], planes[0]);
  cv::merge(planes, lab);
  cv::cvtColor(lab, s.image, cv::COLOR_Lab2RGB);
}

void GaussNoise::draw(cv::Size) {
  sigma_ = std::sqrt(std::max(0.0, uniform(var_.lo, var_.hi)));
  noise_seed_ = rng_();
}

void GaussNoise::transform(Sample& s) const {
  cv::Mat noise(s.image.size(), CV_32FC(s.image.channels()));
  cv::RNG rng(noise_seed_);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, sigma_);
  cv::Mat f;
  s.image.convertTo(f, CV_32F);
  f += noise;
  f.convertTo(s.image, CV_8U);
}

void GaussBlur::draw(cv::Size) {
  const int lo = kmin_ / 2, hi = kmax_ / 2;  // kernel = 2 * r + 1
  k_ = 2 * int(uniform_int(rng_, lo, hi)) + 1;
}

void GaussBlur::transform(Sample& s) const {
  if (k_ > 1) cv::GaussianBlur(s.image, s.image, cv::Size(k_, k_), 0);
}

void CoarseDropout::draw(cv::Size size) {
  holes_.clear();
  const int n = int(uniform_int(rng_, min_holes_, max_holes_));
  for (int i = 0; i < n; ++i) {
    const int h = std::clamp(int(std::lround(uniform(size_.lo, size_.hi) * size.height)), 1, size.height);
    const int w = std::clamp(int(std::lround(uniform(size_.lo, size_.hi) * size.width)), 1, size.width);
    const int x = int(uniform_int(rng_, 0, size.width - w)), y = int(uniform_int(rng_, 0, size.height - h));
    holes_.emplace_back(x, y, w, h);
  }
}

void CoarseDropout::transform(Sample& s) const {
  const cv::Rect bounds(0, 0, s.image.cols, s.image.rows);
  for (const cv::Rect& r : holes_) s.image(r & bounds).setTo(cv::Scalar::all(fill_));
}

}  // namespace ptx::data

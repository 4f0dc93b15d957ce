// The concrete augmentation transforms (built by make_transform from YAML, or directly in code).
// Geometric ones are in augment_geometric.cpp, photometric ones and coarse dropout in
// augment_photometric.cpp, one_of in augment.cpp.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

#include "ptx/data/augment.h"

namespace ptx::data {

struct Range {
  double lo = 0, hi = 0;
};

// How geometric transforms fill pixels that come from outside the image.
enum class Border { constant, reflect, replicate };
int cv_border(Border border);

// ---- geometric: image and mask move together ----

class HorizontalFlip : public Transform {
 public:
  using Transform::Transform;
  std::unique_ptr<Transform> clone() const override { return std::make_unique<HorizontalFlip>(*this); }
  std::string type() const override { return "hflip"; }

 protected:
  void draw(cv::Size) override {}
  void transform(Sample& s) const override;
};

class VerticalFlip : public Transform {
 public:
  using Transform::Transform;
  std::unique_ptr<Transform> clone() const override { return std::make_unique<VerticalFlip>(*this); }
  std::string type() const override { return "vflip"; }

 protected:
  void draw(cv::Size) override {}
  void transform(Sample& s) const override;
};

// Shift (fraction of the side), scale (factor 1 + u) and rotation (degrees) about the centre.
class ShiftScaleRotate : public Transform {
 public:
  ShiftScaleRotate(double p, Range shift, Range scale, Range rotate, Border border, int value)
      : Transform(p), shift_(shift), scale_(scale), rotate_(rotate), border_(border), value_(value) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<ShiftScaleRotate>(*this); }
  std::string type() const override { return "shift_scale_rotate"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  Range shift_, scale_, rotate_;
  Border border_;
  int value_;
  double dx_ = 0, dy_ = 0, factor_ = 1, angle_ = 0;
};

// Elastic deformation: a random displacement field (uniform in [-1, 1]) smoothed by a Gaussian of
// `sigma` pixels and scaled by `alpha` pixels.
class Elastic : public Transform {
 public:
  Elastic(double p, double alpha, double sigma, Border border, int value)
      : Transform(p), alpha_(alpha), sigma_(sigma), border_(border), value_(value) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Elastic>(*this); }
  std::string type() const override { return "elastic"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  double alpha_, sigma_;
  Border border_;
  int value_;
  uint64_t field_seed_ = 0;
};

// Grid distortion: the image is cut into steps x steps cells whose widths and heights are scaled
// by 1 + u, u drawn from `distort` per cell edge.
class GridDistortion : public Transform {
 public:
  GridDistortion(double p, int steps, Range distort, Border border, int value)
      : Transform(p), steps_(steps), distort_(distort), border_(border), value_(value) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<GridDistortion>(*this); }
  std::string type() const override { return "grid_distortion"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  int steps_;
  Range distort_;
  Border border_;
  int value_;
  std::vector<double> xsteps_, ysteps_;
};

// Barrel/pincushion lens distortion with coefficient k (k1 = k2 = k) about a centre shifted by
// `shift` (fraction of the side), focal length = the image's side.
class OpticalDistortion : public Transform {
 public:
  OpticalDistortion(double p, Range distort, Range shift, Border border, int value)
      : Transform(p), distort_(distort), shift_(shift), border_(border), value_(value) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<OpticalDistortion>(*this); }
  std::string type() const override { return "optical_distortion"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  Range distort_, shift_;
  Border border_;
  int value_;
  double k_ = 0, dx_ = 0, dy_ = 0;
};

// A crop whose height is a fraction `scale` of the image's and whose width is height * ratio,
// resized back to the input size.
class RandomSizedCrop : public Transform {
 public:
  RandomSizedCrop(double p, Range scale, Range ratio) : Transform(p), scale_(scale), ratio_(ratio) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<RandomSizedCrop>(*this); }
  std::string type() const override { return "random_sized_crop"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  Range scale_, ratio_;
  cv::Rect crop_;
};

// Resize to a fixed size (area interpolation down, linear up; nearest for the mask).
class Resize : public Transform {
 public:
  Resize(double p, int height, int width) : Transform(p), height_(height), width_(width) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Resize>(*this); }
  std::string type() const override { return "resize"; }

 protected:
  void draw(cv::Size) override {}
  void transform(Sample& s) const override;

 private:
  int height_, width_;
};

// ---- photometric: the image only ----

// Adds beta * 255, beta drawn from `limit`.
class Brightness : public Transform {
 public:
  Brightness(double p, Range limit) : Transform(p), limit_(limit) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Brightness>(*this); }
  std::string type() const override { return "brightness"; }

 protected:
  void draw(cv::Size) override { beta_ = uniform(limit_.lo, limit_.hi); }
  void transform(Sample& s) const override;

 private:
  Range limit_;
  double beta_ = 0;
};

// Multiplies by 1 + u, u drawn from `limit`.
class Contrast : public Transform {
 public:
  Contrast(double p, Range limit) : Transform(p), limit_(limit) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Contrast>(*this); }
  std::string type() const override { return "contrast"; }

 protected:
  void draw(cv::Size) override { alpha_ = 1 + uniform(limit_.lo, limit_.hi); }
  void transform(Sample& s) const override;

 private:
  Range limit_;
  double alpha_ = 1;
};

// 255 * (x / 255)^(g / 100), g drawn from `gamma` (percent).
class Gamma : public Transform {
 public:
  Gamma(double p, Range gamma) : Transform(p), gamma_(gamma) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Gamma>(*this); }
  std::string type() const override { return "gamma"; }

 protected:
  void draw(cv::Size) override { g_ = uniform(gamma_.lo, gamma_.hi) / 100.0; }
  void transform(Sample& s) const override;

 private:
  Range gamma_;
  double g_ = 1;
};

// Contrast-limited adaptive histogram equalisation (on L of Lab for colour images).
class Clahe : public Transform {
 public:
  Clahe(double p, Range clip, int tiles) : Transform(p), clip_(clip), tiles_(tiles) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<Clahe>(*this); }
  std::string type() const override { return "clahe"; }

 protected:
  void draw(cv::Size) override { clip_limit_ = uniform(clip_.lo, clip_.hi); }
  void transform(Sample& s) const override;

 private:
  Range clip_;
  int tiles_;
  double clip_limit_ = 1;
};

// Adds zero-mean Gaussian noise with variance drawn from `var` (grey levels squared).
class GaussNoise : public Transform {
 public:
  GaussNoise(double p, Range var) : Transform(p), var_(var) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<GaussNoise>(*this); }
  std::string type() const override { return "gauss_noise"; }

 protected:
  void draw(cv::Size) override;
  void transform(Sample& s) const override;

 private:
  Range var_;
  double sigma_ = 0;
  uint64_t noise_seed_ = 0;
};

// Gaussian blur with an odd kernel size drawn from [kernel.lo, kernel.hi].
class GaussBlur : public Transform {
 public:
  GaussBlur(double p, int kmin, int kmax) : Transform(p), kmin_(kmin), kmax_(kmax) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<GaussBlur>(*this); }
  std::string type() const override { return "gauss_blur"; }

 protected:
  void draw(cv::Size) override;
  void transform(Sample& s) const override;

 private:
  int kmin_, kmax_;
  int k_ = 3;
};

// Fills [holes.lo, holes.hi] rectangles, each side a fraction `size` of the image's, with `fill`.
// The mask is left alone.
class CoarseDropout : public Transform {
 public:
  CoarseDropout(double p, int min_holes, int max_holes, Range size, int fill)
      : Transform(p), min_holes_(min_holes), max_holes_(max_holes), size_(size), fill_(fill) {}
  std::unique_ptr<Transform> clone() const override { return std::make_unique<CoarseDropout>(*this); }
  std::string type() const override { return "coarse_dropout"; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  int min_holes_, max_holes_;
  Range size_;
  int fill_;
  std::vector<cv::Rect> holes_;
};

// ---- groups ----

// Picks one child with probability proportional to its p, then applies it (always).
class OneOf : public Transform {
 public:
  OneOf(double p, std::vector<std::unique_ptr<Transform>> children);
  OneOf(const OneOf& other);
  std::unique_ptr<Transform> clone() const override { return std::make_unique<OneOf>(*this); }
  std::string type() const override { return "one_of"; }
  void seed(uint64_t seed) override;
  void save_state(std::ostream& out) const override;
  void load_state(std::istream& in) override;
  std::size_t chosen() const { return chosen_; }

 protected:
  void draw(cv::Size size) override;
  void transform(Sample& s) const override;

 private:
  std::vector<std::unique_ptr<Transform>> children_;
  std::vector<double> cumulative_;  // cumulative normalised weights
  std::size_t chosen_ = 0;
};

}  // namespace ptx::data

// Training augmentation: transforms applied jointly to an image and its mask. Each transform owns
// its generator (std::mt19937_64) and separates randomize() (draw whether it applies and its
// parameters) from apply() (use them on image and mask), as MONAI's transforms do, so one draw
// moves image and mask together and one seed reproduces a whole pipeline.
//
// Images are CV_8U, one or three channels; masks CV_8UC1 0/255 (or empty: no mask). Geometric
// transforms interpolate images linearly and masks by nearest neighbour (they stay binary);
// photometric transforms and coarse dropout touch the image only.
//
// A pipeline is built from a YAML list, e.g.
//   - {type: hflip, p: 0.5}
//   - {type: shift_scale_rotate, p: 0.5, shift: 0.0625, scale: 0.1, rotate: 45}
//   - {type: one_of, p: 0.3, transforms: [{type: elastic, alpha: 120, sigma: 6}, {type: grid_distortion}]}
// Range parameters take a [low, high] pair or one number (a limit around the neutral value:
// rotate 15 = [-15, 15] degrees, gamma 20 = [80, 120] percent). The types, their keys and
// defaults are listed by augment_help().
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace ptx::data {

// An image and its mask, transformed together.
struct Sample {
  cv::Mat image;  // CV_8UC1 or CV_8UC3
  cv::Mat mask;   // CV_8UC1 0/255, or empty
};

class Transform {
 public:
  explicit Transform(double p) : p_(p) {}
  virtual ~Transform() = default;
  virtual std::unique_ptr<Transform> clone() const = 0;
  virtual std::string type() const = 0;  // the YAML type name

  // Seeds this transform's generator (and its children's).
  virtual void seed(uint64_t seed) { rng_.seed(seed); }
  // Draws whether the transform applies (probability p, or always when forced) and, if it does,
  // its parameters for an image of this size.
  void randomize(cv::Size size, bool force = false);
  // Applies the last draw to image and mask (nothing when the draw said not to apply).
  void apply(Sample& sample) const {
    if (applies_) transform(sample);
  }
  // randomize() for the sample's size, then apply().
  void operator()(Sample& sample) {
    randomize(sample.image.size());
    apply(sample);
  }
  bool applies() const { return applies_; }
  double p() const { return p_; }

  // Generator state (text), for resuming: this transform's, then its children's.
  virtual void save_state(std::ostream& out) const;
  virtual void load_state(std::istream& in);

 protected:
  virtual void draw(cv::Size size) = 0;             // draws the parameters
  virtual void transform(Sample& sample) const = 0;  // uses them
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  double unit();
  std::mt19937_64 rng_;

 private:
  double p_;
  bool applies_ = false;
};

// A sequence of transforms, applied in order.
class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<std::unique_ptr<Transform>> transforms, uint64_t seed = 0);
  Pipeline(const Pipeline& other);  // deep copy, generator states included
  Pipeline& operator=(const Pipeline& other);
  Pipeline(Pipeline&&) noexcept = default;
  Pipeline& operator=(Pipeline&&) noexcept = default;

  // From a YAML sequence of {type: ..., p: ..., ...} maps (null = empty pipeline). Errors are
  // core::Error naming the key path under `path` (e.g. "augment[2].rotate") and the valid choices.
  static Pipeline from_yaml(const YAML::Node& node, const std::string& path = "augment", uint64_t seed = 0);
  static Pipeline from_yaml_string(const std::string& yaml, const std::string& path = "augment", uint64_t seed = 0);

  // Reseeds every transform from one seed (transform k gets derive_seed(seed, k)).
  void seed(uint64_t seed);
  // Randomizes and applies every transform in turn.
  void operator()(Sample& sample);

  // Generator states of all transforms, as text; restore() throws core::Error when the text does
  // not come from a pipeline of the same shape.
  std::string state() const;
  void restore(const std::string& state);

  std::size_t size() const { return transforms_.size(); }
  bool empty() const { return transforms_.empty(); }
  const Transform& operator[](std::size_t i) const { return *transforms_[i]; }

 private:
  std::vector<std::unique_ptr<Transform>> transforms_;
};

// One transform from its YAML map; `path` names it in errors (e.g. "augment[3]").
std::unique_ptr<Transform> make_transform(const YAML::Node& node, const std::string& path);

// The transform types with their keys and defaults, one line each (for --help and errors).
std::string augment_help();

}  // namespace ptx::data

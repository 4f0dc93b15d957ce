#include "ptx/data/augment.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <istream>
#include <map>
#include <ostream>
#include <sstream>

#include "ptx/core/error.h"
#include "ptx/core/strings.h"
#include "ptx/data/augment_transforms.h"
#include "ptx/data/seed.h"

namespace ptx::data {

// ---- Transform ----

void Transform::randomize(cv::Size size, bool force) {
  const double u = unit();  // drawn even when forced: the stream does not depend on force
  applies_ = force || u < p_;
  if (applies_) draw(size);
}

double Transform::unit() { return unit_interval(rng_); }

void Transform::save_state(std::ostream& out) const { out << rng_ << '\n'; }

void Transform::load_state(std::istream& in) {
  std::mt19937_64 rng;
  if (!(in >> rng)) throw core::Error("augmentation state: not a saved generator state for transform " + type());
  rng_ = rng;
}

// ---- OneOf ----

OneOf::OneOf(double p, std::vector<std::unique_ptr<Transform>> children) : Transform(p), children_(std::move(children)) {
  double total = 0;
  for (const auto& c : children_) total += c->p();
  double acc = 0;
  for (const auto& c : children_) {
    acc += total > 0 ? c->p() / total : 1.0 / double(children_.size());
    cumulative_.push_back(acc);
  }
}

OneOf::OneOf(const OneOf& other) : Transform(other), cumulative_(other.cumulative_), chosen_(other.chosen_) {
  for (const auto& c : other.children_) children_.push_back(c->clone());
}

void OneOf::seed(uint64_t seed) {
  rng_.seed(seed);
  for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->seed(derive_seed(seed, i + 1));
}

void OneOf::save_state(std::ostream& out) const {
  Transform::save_state(out);
  for (const auto& c : children_) c->save_state(out);
}

void OneOf::load_state(std::istream& in) {
  Transform::load_state(in);
  for (const auto& c : children_) c->load_state(in);
}

void OneOf::draw(cv::Size size) {
  if (children_.empty()) return;
  const double u = unit();
  chosen_ = std::size_t(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
  chosen_ = std::min(chosen_, children_.size() - 1);
  children_[chosen_]->randomize(size, true);
}

void OneOf::transform(Sample& s) const {
  if (!children_.empty()) children_[chosen_]->apply(s);
}

// ---- Pipeline ----

Pipeline::Pipeline(std::vector<std::unique_ptr<Transform>> transforms, uint64_t seed) : transforms_(std::move(transforms)) {
  this->seed(seed);
}

Pipeline::Pipeline(const Pipeline& other) {
  for (const auto& t : other.transforms_) transforms_.push_back(t->clone());
}

Pipeline& Pipeline::operator=(const Pipeline& other) {
  if (this != &other) {
    std::vector<std::unique_ptr<Transform>> copy;
    for (const auto& t : other.transforms_) copy.push_back(t->clone());
    transforms_ = std::move(copy);
  }
  return *this;
}

void Pipeline::seed(uint64_t seed) {
  for (std::size_t i = 0; i < transforms_.size(); ++i) transforms_[i]->seed(derive_seed(seed, i));
}

void Pipeline::operator()(Sample& sample) {
  if (sample.image.empty()) throw core::Error("augmentation: empty image");
  if (sample.image.depth() != CV_8U || (sample.image.channels() != 1 && sample.image.channels() != 3))
    throw core::Error("augmentation: images must be 8-bit with 1 or 3 channels");
  if (!sample.mask.empty() && (sample.mask.size() != sample.image.size() || sample.mask.type() != CV_8UC1))
    throw core::Error("augmentation: the mask must be 8-bit, one channel, the image's size");
  for (const auto& t : transforms_) (*t)(sample);
}

std::string Pipeline::state() const {
  std::ostringstream out;
  out << "ptx-augment-state 1 " << transforms_.size() << '\n';
  for (const auto& t : transforms_) {
    out << t->type() << '\n';
    t->save_state(out);
  }
  return out.str();
}

void Pipeline::restore(const std::string& state) {
  std::istringstream in(state);
  std::string magic, type;
  int version = 0;
  std::size_t n = 0;
  if (!(in >> magic >> version >> n) || magic != "ptx-augment-state" || version != 1)
    throw core::Error("augmentation state: not a saved ptx augmentation state");
  if (n != transforms_.size())
    throw core::Error("augmentation state: saved for " + std::to_string(n) + " transforms, the pipeline has " + std::to_string(transforms_.size()));
  for (const auto& t : transforms_) {
    if (!(in >> type) || type != t->type())
      throw core::Error("augmentation state: saved for transform '" + type + "' where the pipeline has '" + t->type() + "'");
    t->load_state(in);
  }
}

// ---- YAML ----

namespace {

std::string scalar_text(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "nothing";
}

std::string format(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// The keys of one transform's YAML map, read with checks; errors name path.key.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string path, const std::string& type, std::vector<std::string> keys)
      : node_(node), path_(std::move(path)) {
    keys.insert(keys.begin(), {"type", "p"});
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        throw core::Error(path_ + "." + key + ": unknown key for " + type + "; valid keys: " + core::join(keys));
    }
  }
  std::string path(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) const { return bool(node_[key]); }

  double number(const std::string& key, double def, double min, double max) const {
    const YAML::Node n = node_[key];
    if (!n) return def;
    return check(key, to_double(key, n), min, max);
  }
  int integer(const std::string& key, int def, int min, int max) const {
    const YAML::Node n = node_[key];
    if (!n) return def;
    const double v = to_double(key, n);
    if (v != double(int64_t(v))) throw core::Error(path(key) + ": expected a whole number, got " + scalar_text(n));
    return int(check(key, v, min, max));
  }
  // A [low, high] pair, or one number turned into a pair by `scalar`.
  Range range(const std::string& key, Range def, double min, double max, const std::function<Range(double)>& scalar) const {
    const YAML::Node n = node_[key];
    if (!n) return def;
    Range r;
    if (n.IsSequence()) {
      if (n.size() != 2) throw core::Error(path(key) + ": expected a number or a [low, high] pair, got a list of " + std::to_string(n.size()));
      r = {to_double(key, n[0]), to_double(key, n[1])};
    } else {
      r = scalar(to_double(key, n));
    }
    if (r.lo > r.hi) throw core::Error(path(key) + ": low " + format(r.lo) + " is above high " + format(r.hi));
    check(key, r.lo, min, max);
    check(key, r.hi, min, max);
    return r;
  }
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& choices) const {
    const YAML::Node n = node_[key];
    if (!n) return def;
    const std::string v = n.IsScalar() ? n.Scalar() : "";
    if (std::find(choices.begin(), choices.end(), v) == choices.end())
      throw core::Error(path(key) + ": got " + scalar_text(n) + "; valid choices: " + core::join(choices));
    return v;
  }
  Border border() const {
    const std::string b = choice("border", "reflect", {"constant", "reflect", "replicate"});
    return b == "constant" ? Border::constant : b == "replicate" ? Border::replicate : Border::reflect;
  }

 private:
  double to_double(const std::string& key, const YAML::Node& n) const {
    if (n.IsScalar()) {
      try {
        return n.as<double>();
      } catch (const YAML::Exception&) {
      }
    }
    throw core::Error(path(key) + ": expected a number, got " + scalar_text(n));
  }
  double check(const std::string& key, double v, double min, double max) const {
    if (!(v >= min && v <= max))
      throw core::Error(path(key) + ": must be between " + format(min) + " and " + format(max) + ", got " + format(v));
    return v;
  }

  YAML::Node node_;
  std::string path_;
};

Range symmetric(double x) { return {-std::abs(x), std::abs(x)}; }

struct TypeInfo {
  std::string help;  // keys and defaults
  std::vector<std::string> keys;
  std::function<std::unique_ptr<Transform>(const Fields&, double p)> make;
  double default_p = 0.5;
};

const std::map<std::string, TypeInfo>& types() {
  static const std::map<std::string, TypeInfo> t = {
      {"hflip", {"horizontal flip", {}, [](const Fields&, double p) { return std::make_unique<HorizontalFlip>(p); }}},
      {"vflip", {"vertical flip", {}, [](const Fields&, double p) { return std::make_unique<VerticalFlip>(p); }}},
      {"shift_scale_rotate",
       {"shift 0.0625 (fraction of the side), scale 0.1 (factor 1+u), rotate 45 (degrees), border reflect|constant|replicate, value 0",
        {"shift", "scale", "rotate", "border", "value"},
        [](const Fields& f, double p) {
          return std::make_unique<ShiftScaleRotate>(p, f.range("shift", {-0.0625, 0.0625}, -1, 1, symmetric),
                                                    f.range("scale", {-0.1, 0.1}, -0.99, 10, symmetric),
                                                    f.range("rotate", {-45, 45}, -360, 360, symmetric), f.border(),
                                                    f.integer("value", 0, 0, 255));
        }}},
      {"elastic",
       {"alpha 120 (pixels), sigma 6 (pixels), border, value", {"alpha", "sigma", "border", "value"},
        [](const Fields& f, double p) {
          return std::make_unique<Elastic>(p, f.number("alpha", 120, 0, 1e4), f.number("sigma", 6, 0.1, 1e3), f.border(),
                                           f.integer("value", 0, 0, 255));
        }}},
      {"grid_distortion",
       {"steps 5, distort 0.3, border, value", {"steps", "distort", "border", "value"},
        [](const Fields& f, double p) {
          return std::make_unique<GridDistortion>(p, f.integer("steps", 5, 1, 100), f.range("distort", {-0.3, 0.3}, -0.99, 10, symmetric),
                                                  f.border(), f.integer("value", 0, 0, 255));
        }}},
      {"optical_distortion",
       {"distort 0.05, shift 0.05 (fraction of the side), border, value", {"distort", "shift", "border", "value"},
        [](const Fields& f, double p) {
          return std::make_unique<OpticalDistortion>(p, f.range("distort", {-0.05, 0.05}, -10, 10, symmetric),
                                                     f.range("shift", {-0.05, 0.05}, -1, 1, symmetric), f.border(),
                                                     f.integer("value", 0, 0, 255));
        }}},
      {"random_sized_crop",
       {"scale [0.7, 1] (crop height / image height), ratio [1, 1] (crop width / crop height); resized back", {"scale", "ratio"},
        [](const Fields& f, double p) {
          return std::make_unique<RandomSizedCrop>(p, f.range("scale", {0.7, 1.0}, 0.01, 1, [](double x) { return Range{x, 1.0}; }),
                                                   f.range("ratio", {1, 1}, 0.01, 100, [](double x) { return Range{x, x}; }));
        }}},
      {"resize",
       {"size, or height and width (pixels); p defaults to 1", {"size", "height", "width"},
        [](const Fields& f, double p) {
          const int size = f.integer("size", 0, 1, 16384);
          if (!size && !(f.has("height") && f.has("width")))
            throw core::Error(f.path("size") + ": resize needs size, or height and width");
          return std::make_unique<Resize>(p, f.integer("height", size, 1, 16384), f.integer("width", size, 1, 16384));
        },
        1.0}},
      {"brightness",
       {"limit 0.2 (adds u * 255)", {"limit"},
        [](const Fields& f, double p) { return std::make_unique<Brightness>(p, f.range("limit", {-0.2, 0.2}, -1, 1, symmetric)); }}},
      {"contrast",
       {"limit 0.2 (multiplies by 1+u)", {"limit"},
        [](const Fields& f, double p) { return std::make_unique<Contrast>(p, f.range("limit", {-0.2, 0.2}, -1, 10, symmetric)); }}},
      {"gamma",
       {"gamma [80, 120] (percent; one number g = [100-g, 100+g])", {"gamma"},
        [](const Fields& f, double p) {
          return std::make_unique<Gamma>(p, f.range("gamma", {80, 120}, 1, 1000, [](double g) { return Range{100 - g, 100 + g}; }));
        }}},
      {"clahe",
       {"clip 4 ([1, clip]), tiles 8", {"clip", "tiles"},
        [](const Fields& f, double p) {
          return std::make_unique<Clahe>(p, f.range("clip", {1, 4}, 0.01, 100, [](double c) { return Range{1, c}; }),
                                         f.integer("tiles", 8, 1, 64));
        }}},
      {"gauss_noise",
       {"var [10, 50] (grey levels squared; one number v = [0, v])", {"var"},
        [](const Fields& f, double p) {
          return std::make_unique<GaussNoise>(p, f.range("var", {10, 50}, 0, 65025, [](double v) { return Range{0, v}; }));
        }}},
      {"gauss_blur",
       {"kernel [3, 7] (odd sizes; one number k = [3, k])", {"kernel"},
        [](const Fields& f, double p) {
          const Range k = f.range("kernel", {3, 7}, 1, 101, [](double k) { return Range{std::min(3.0, k), k}; });
          return std::make_unique<GaussBlur>(p, int(k.lo), int(k.hi));
        }}},
      {"coarse_dropout",
       {"holes [1, 8], size [0.02, 0.1] (fraction of the side), fill 0; the mask is kept", {"holes", "size", "fill"},
        [](const Fields& f, double p) {
          const Range holes = f.range("holes", {1, 8}, 0, 1000, [](double n) { return Range{1, n}; });
          return std::make_unique<CoarseDropout>(p, int(holes.lo), int(holes.hi),
                                                 f.range("size", {0.02, 0.1}, 0, 1, [](double s) { return Range{s, s}; }),
                                                 f.integer("fill", 0, 0, 255));
        }}},
      {"one_of",
       {"transforms [...] (required): one child picked with probability proportional to its p, then applied", {"transforms"},
        [](const Fields& f, double p) -> std::unique_ptr<Transform> {
          (void)f;
          (void)p;
          return nullptr;  // built by make_transform, which knows the children's node
        }}},
  };
  return t;
}

std::vector<std::string> type_names() {
  std::vector<std::string> names;
  for (const auto& kv : types()) names.push_back(kv.first);
  return names;
}

}  // namespace

std::unique_ptr<Transform> make_transform(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) throw core::Error(path + ": expected a map like {type: hflip, p: 0.5}, got " + scalar_text(node));
  const YAML::Node type_node = node["type"];
  if (!type_node) throw core::Error(path + ".type: missing; valid types: " + core::join(type_names()));
  const std::string type = type_node.IsScalar() ? type_node.Scalar() : "";
  const auto it = types().find(type);
  if (it == types().end())
    throw core::Error(path + ".type: unknown transform " + scalar_text(type_node) + "; valid types: " + core::join(type_names()));
  const Fields f(node, path, type, it->second.keys);
  const double p = f.number("p", it->second.default_p, 0, 1);
  if (type != "one_of") return it->second.make(f, p);
  const YAML::Node list = node["transforms"];
  if (!list || !list.IsSequence() || list.size() == 0)
    throw core::Error(f.path("transforms") + ": one_of needs a non-empty list of transforms");
  std::vector<std::unique_ptr<Transform>> children;
  for (std::size_t i = 0; i < list.size(); ++i)
    children.push_back(make_transform(list[i], f.path("transforms") + "[" + std::to_string(i) + "]"));
  return std::make_unique<OneOf>(p, std::move(children));
}

Pipeline Pipeline::from_yaml(const YAML::Node& node, const std::string& path, uint64_t seed) {
  std::vector<std::unique_ptr<Transform>> transforms;
  if (node && !node.IsNull()) {
    if (!node.IsSequence()) throw core::Error(path + ": expected a list of transforms, got " + scalar_text(node));
    for (std::size_t i = 0; i < node.size(); ++i)
      transforms.push_back(make_transform(node[i], path + "[" + std::to_string(i) + "]"));
  }
  return Pipeline(std::move(transforms), seed);
}

Pipeline Pipeline::from_yaml_string(const std::string& yaml, const std::string& path, uint64_t seed) {
  YAML::Node node;
  try {
    node = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw core::Error(path + ": not valid YAML: " + e.what());
  }
  return from_yaml(node, path, seed);
}

std::string augment_help() {
  std::string s;
  for (const auto& [name, info] : types())
    s += name + " (p " + format(info.default_p) + (info.keys.empty() ? "" : ", ") + info.help + ")\n";
  return s;
}

}  // namespace ptx::data

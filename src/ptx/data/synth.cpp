#include "ptx/data/synth.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <random>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/parallel.h"
#include "ptx/core/progress.h"
#include "ptx/core/safe_name.h"
#include "ptx/io/dicom_write.h"
#include "ptx/io/rle.h"

namespace ptx::data {
namespace fs = std::filesystem;

namespace {

constexpr int kMinSize = 64, kMaxSize = 4096;
constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------------------------
// Random numbers. std::mt19937_64's sequence is fixed by the standard but its distributions are
// implementation-defined, so values are mapped from raw 64-bit draws here.

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// An independent stream per (seed, purpose), so adding draws to one purpose never shifts another.
uint64_t substream(uint64_t seed, uint64_t purpose) { return splitmix64(splitmix64(seed) ^ splitmix64(~purpose)); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return std::min(n - 1, int(uniform() * n)); }
  bool chance(double p) { return uniform() < p; }
  // Two standard normal values (Box-Muller).
  std::pair<double, double> normal_pair() {
    const double r = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    const double a = 2.0 * kPi * uniform();
    return {r * std::cos(a), r * std::sin(a)};
  }

 private:
  std::mt19937_64 engine_;
};

// A CV_32FC1 image of independent standard normal values.
cv::Mat normal_noise(int size, Rng& rng) {
  cv::Mat m(size, size, CV_32FC1);
  float* p = m.ptr<float>();
  const std::size_t n = m.total();
  for (std::size_t i = 0; i < n; i += 2) {
    const auto [a, b] = rng.normal_pair();
    p[i] = float(a);
    if (i + 1 < n) p[i + 1] = float(b);
  }
  return m;
}

// A DICOM UID under the root 2.25 (PS3.5 B.2): a version-4 UUID as one decimal number.
std::string uuid_uid(uint64_t hi, uint64_t lo) {
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                       // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  uint32_t limbs[4] = {uint32_t(hi >> 32), uint32_t(hi), uint32_t(lo >> 32), uint32_t(lo)};
  std::string digits;
  while (limbs[0] || limbs[1] || limbs[2] || limbs[3]) {
    uint64_t rem = 0;
    for (uint32_t& limb : limbs) {
      const uint64_t cur = (rem << 32) | limb;
      limb = uint32_t(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(char('0' + rem));
  }
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers. Anatomy is laid out in unit coordinates (0..1 across the image, y down) and
// drawn at the image size with 4 fractional bits, so small images keep smooth outlines.

using Pt = cv::Point2d;
using Path = std::vector<Pt>;
constexpr int kShift = 4;

cv::Point to_pixels(Pt p, int size) {
  const double s = size * double(1 << kShift);
  return {int(std::lround(p.x * s)), int(std::lround(p.y * s))};
}
int to_length(double unit, int size) { return int(std::lround(unit * size * (1 << kShift))); }

// Closed Catmull-Rom curve through the control points.
Path closed_curve(const Path& ctrl, int per_segment = 12) {
  const int n = int(ctrl.size());
  Path out;
  for (int i = 0; i < n; ++i) {
    const Pt p0 = ctrl[(i + n - 1) % n], p1 = ctrl[i], p2 = ctrl[(i + 1) % n], p3 = ctrl[(i + 2) % n];
    for (int k = 0; k < per_segment; ++k) {
      const double t = double(k) / per_segment, t2 = t * t, t3 = t2 * t;
      out.push_back(0.5 * (2.0 * p1 + (p2 - p0) * t + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t2 +
                           (3.0 * p1 - p0 - 3.0 * p2 + p3) * t3));
    }
  }
  return out;
}

void fill(cv::Mat& layer, const Path& outline, int value) {
  std::vector<cv::Point> pts;
  for (const Pt& p : outline) pts.push_back(to_pixels(p, layer.cols));
  cv::fillPoly(layer, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(value), cv::LINE_AA, kShift);
}

void stroke(cv::Mat& layer, const Path& path, double width, int value) {
  std::vector<cv::Point> pts;
  for (const Pt& p : path) pts.push_back(to_pixels(p, layer.cols));
  const int px = std::max(1, int(std::lround(width * layer.cols)));
  cv::polylines(layer, std::vector<std::vector<cv::Point>>{pts}, false, cv::Scalar(value), px, cv::LINE_AA, kShift);
}

// A bone seen edge-on: its cortex is denser than its marrow, so the band has brighter borders.
void stroke_bone(cv::Mat& layer, const Path& path, double width) {
  stroke(layer, path, width, 255);
  if (width * layer.cols >= 3) stroke(layer, path, width * 0.45, 170);
}

// Gaussian blur with sigma in pixels; wide blurs run on a reduced copy (same result to the eye,
// a fraction of the time at 1024 px).
cv::Mat smooth(const cv::Mat& src, double sigma) {
  cv::Mat out;
  if (sigma < 0.3) return src.clone();
  const int factor = std::max(1, int(sigma / 4));
  if (factor == 1) {
    cv::GaussianBlur(src, out, cv::Size(), sigma);
    return out;
  }
  cv::Mat small;
  cv::resize(src, small, cv::Size(), 1.0 / factor, 1.0 / factor, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(), sigma / factor);
  cv::resize(small, out, src.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

// An 8-bit layer as float 0..amplitude, blurred by sigma pixels.
cv::Mat soft(const cv::Mat& layer8, double amplitude, double sigma) {
  cv::Mat f;
  layer8.convertTo(f, CV_32F, amplitude / 255.0);
  return smooth(f, sigma);
}

// ---------------------------------------------------------------------------------------------
// Anatomy. Side 0 is the image's left (the patient's right in a PA view), side 1 its mirror.

struct Proportions {
  double top;          // lung apices
  double lateral;      // outer edge of the lungs
  double medial;       // inner edge of the lungs
  double bottom[2];    // costophrenic angles (the left dome sits lower)
  double dome[2];      // tops of the diaphragm domes
  double width() const { return medial - lateral; }
  double height(int side) const { return bottom[side] - top; }
  // The middle of a lung, in side-0 coordinates (mirror with on_side).
  Pt center(int side) const { return {lateral + 0.5 * width(), top + 0.5 * height(side)}; }
};

double side_x(int side, double x) { return side == 0 ? x : 1.0 - x; }
Pt on_side(int side, Pt p) { return {side_x(side, p.x), p.y}; }

Proportions random_proportions(Rng& rng) {
  Proportions p;
  p.top = rng.uniform(0.09, 0.14);
  p.lateral = rng.uniform(0.08, 0.125);
  p.medial = rng.uniform(0.425, 0.45);
  p.bottom[0] = rng.uniform(0.71, 0.80);
  p.bottom[1] = p.bottom[0] + rng.uniform(0.01, 0.035);
  for (int s = 0; s < 2; ++s) p.dome[s] = p.bottom[s] - rng.uniform(0.08, 0.12);
  return p;
}

Pt jitter(Pt p, Rng& rng, double amount) { return {p.x + rng.uniform(-amount, amount), p.y + rng.uniform(-amount, amount)}; }

// The outline of one lung field: a rounded apex, the lateral chest wall, a sharp costophrenic
// angle, the diaphragm dome, and the mediastinal border (pushed out by the heart on side 1).
Path lung_outline(const Proportions& p, int side, Rng& rng) {
  const double l = p.lateral, w = p.width(), t = p.top, h = p.height(side);
  const double b = p.bottom[side], d = p.dome[side];
  const double heart = side == 1 ? 0.10 : 0.03;  // how far the heart border bulges into the lung
  const Path ctrl = {
      // apex and lateral chest wall down to the costophrenic angle
      {l + 0.55 * w, t}, {l + 0.30 * w, t + 0.07 * h}, {l + 0.12 * w, t + 0.30 * h}, {l + 0.02 * w, t + 0.62 * h},
      {l, b},
      // diaphragm dome
      {l + 0.10 * w, b - 0.02}, {l + 0.30 * w, d + 0.25 * (b - d)}, {l + 0.52 * w, d}, {l + 0.78 * w, d + 0.3 * (b - d)},
      // mediastinal border back up to the apex
      {l + (1.0 - heart * 1.4) * w, d + 0.55 * (b - d)}, {l + (1.0 - heart * 1.6) * w, t + 0.62 * h},
      {l + (1.0 - heart * 0.3) * w, t + 0.42 * h}, {l + 0.98 * w, t + 0.18 * h}, {l + 0.80 * w, t + 0.02 * h},
  };
  Path out;
  for (const Pt& c : ctrl) out.push_back(on_side(side, jitter(c, rng, 0.006)));
  return closed_curve(out);
}

Path body_outline(const Proportions& p, Rng& rng) {
  const double edge = std::max(0.015, p.lateral - rng.uniform(0.05, 0.07));
  const double neck = rng.uniform(0.36, 0.40), shoulder = rng.uniform(0.04, 0.08);
  const Path half = {{neck, -0.05}, {neck - 0.02, 0.02}, {0.22, shoulder}, {edge + 0.01, shoulder + 0.06},
                     {edge, 0.40}, {edge + 0.01, 0.75}, {edge - 0.01, 1.05}};
  Path out;
  for (const Pt& c : half) out.push_back(jitter(c, rng, 0.005));
  for (auto it = half.rbegin(); it != half.rend(); ++it) out.push_back(on_side(1, jitter(*it, rng, 0.005)));
  return out;  // a polygon: the straight edges leave the image anyway
}

// The heart: right border just beside the spine, left border bulging out over the left lung, the
// apex resting on the left dome.
Path heart_outline(const Proportions& p, Rng& rng) {
  const double top = p.top + rng.uniform(0.26, 0.30), base = p.dome[1] + rng.uniform(0.0, 0.02);
  const double h = base - top, wide = rng.uniform(0.0, 0.04);
  const Path ctrl = {{0.46, top},
                     {0.56, top - 0.01},
                     {0.61 + wide * 0.5, top + 0.2 * h},
                     {0.66 + wide, top + 0.6 * h},
                     {0.65 + wide, base - 0.03},
                     {0.58, base + 0.01},
                     {0.47, base + 0.01},
                     {0.41 - wide * 0.3, base - 0.06},
                     {0.405 - wide * 0.3, top + 0.45 * h},
                     {0.44, top + 0.12 * h}};
  Path out;
  for (const Pt& c : ctrl) out.push_back(jitter(c, rng, 0.006));
  return closed_curve(out);
}

// Each rib seen from the front: the posterior part arches from the spine out to the chest wall and
// turns down along it; the anterior part turns back and runs down and in towards the sternum.
// Both pass over the lungs and any pneumothorax.
void draw_ribs(cv::Mat& posterior, cv::Mat& anterior, const Proportions& p, int side, Rng& rng) {
  const int n = 10;
  const double spacing = p.height(side) * rng.uniform(0.095, 0.11);
  const double thick = rng.uniform(0.02, 0.025), turn = 0.03;
  for (int k = 0; k < n; ++k) {
    const double y0 = p.top - 0.04 + k * spacing + rng.uniform(-0.004, 0.004);
    const double x_med = 0.47, x_lat = p.lateral - 0.025 + turn;
    const double arch = rng.uniform(0.03, 0.045), drop = 0.04 + 0.04 * k / n;
    Path back, front;
    for (int i = 0; i <= 24; ++i) {
      const double t = i / 24.0;
      back.push_back({x_med + t * (x_lat - x_med), y0 - arch * std::sin(kPi * t * 0.6) + drop * t * t * t});
    }
    const Pt bend = back.back();
    for (int i = 1; i <= 8; ++i) {
      const double u = kPi / 2 * i / 8;
      back.push_back({bend.x - turn * std::sin(u), bend.y + turn * (1 - std::cos(u))});
    }
    const Pt low = back.back();
    for (int i = 0; i <= 8; ++i) {
      const double u = kPi / 2 * i / 8;
      front.push_back({low.x + turn * (1 - std::cos(u)), low.y + turn * std::sin(u)});
    }
    const Pt start = front.back();
    const Pt end{p.lateral + rng.uniform(0.45, 0.6) * p.width(), start.y + rng.uniform(0.07, 0.1)};
    for (int i = 1; i <= 12; ++i) {
      const double t = i / 12.0;
      front.push_back({start.x + t * (end.x - start.x), start.y + t * (end.y - start.y) - 0.015 * std::sin(kPi * t)});
    }
    for (Pt& q : back) q = on_side(side, q);
    for (Pt& q : front) q = on_side(side, q);
    stroke_bone(posterior, back, thick);
    if (start.y < p.bottom[side]) stroke_bone(anterior, front, thick * 0.8);
  }
}

void draw_clavicle(cv::Mat& layer, const Proportions& p, int side, Rng& rng) {
  const Pt inner{rng.uniform(0.43, 0.45), p.top + rng.uniform(0.05, 0.08)};
  const Pt outer{rng.uniform(0.08, 0.12), p.top - rng.uniform(0.03, 0.06)};
  const double s = rng.uniform(0.008, 0.016);
  Path path;
  for (int i = 0; i <= 24; ++i) {
    const double t = i / 24.0;
    path.push_back(on_side(side, {inner.x + t * (outer.x - inner.x), inner.y + t * (outer.y - inner.y) + s * std::sin(2 * kPi * t)}));
  }
  stroke_bone(layer, path, rng.uniform(0.026, 0.032));
}

// The vascular "lung markings": trees of tapering vessels branching out from each hilum.
void draw_vessel(cv::Mat& layer, Pt from, double angle, double length, double width, int value, int depth, int side,
                 Rng& rng) {
  // angle: 0 points up, 90 points to the lateral chest wall (side-0 coordinates: -x).
  const double a = angle * kPi / 180.0;
  const Pt to{from.x + (side == 0 ? -1.0 : 1.0) * length * std::sin(a), from.y - length * std::cos(a)};
  // Vessels thinner than a pixel are drawn one pixel wide but fainter.
  const double pixels = width * layer.cols;
  stroke(layer, {from, to}, width, pixels < 1 ? int(value * pixels) : value);
  if (depth == 0) return;
  const double spread = rng.uniform(15, 35);
  for (int sign : {-1, 1}) {
    const double turn = sign * spread + rng.uniform(-8, 8), shrink = rng.uniform(0.72, 0.9);
    draw_vessel(layer, to, angle + turn, length * shrink, width * 0.7, int(value * 0.8), depth - 1, side, rng);
  }
}

void draw_lung_markings(cv::Mat& layer, const Proportions& p, int side, Rng& rng) {
  const Pt hilum = on_side(side, {p.medial - 0.05, p.top + 0.48 * p.height(side)});
  cv::ellipse(layer, to_pixels(hilum, layer.cols), cv::Size(to_length(0.03, layer.cols), to_length(0.05, layer.cols)), 0, 0,
              360, cv::Scalar(200), cv::FILLED, cv::LINE_AA, kShift);
  for (double angle : {-15.0, 20.0, 55.0, 90.0, 125.0, 160.0, 195.0}) {
    const Pt root = jitter(hilum, rng, 0.01);
    const double turn = rng.uniform(-12, 12), length = rng.uniform(0.075, 0.095), width = rng.uniform(0.008, 0.011);
    draw_vessel(layer, root, angle + turn, length, width, 255, 4, side, rng);
  }
}

// ---------------------------------------------------------------------------------------------
// Pneumothorax: air between the chest wall and the collapsed lung. It follows the pleura over an
// arc of angles (0 = apex, 90 = lateral wall, seen from the lung's middle) with a depth that is
// largest mid-arc and tapers to nothing at both ends.

struct Pneumothorax {
  int side;
  double from, to;  // degrees
  double depth;     // unit coordinates, at the middle of the arc
};

Pneumothorax random_pneumothorax(int side, Rng& rng) {
  const double s = std::pow(rng.uniform(), 1.4);  // 0 = small apical, 1 = large apical-lateral
  return {side, -30 - 15 * s - rng.uniform(0, 10), 30 + 110 * s + rng.uniform(0, 15), 0.012 + 0.10 * s};
}

std::vector<Pneumothorax> random_pneumothoraces(Rng& rng) {
  const int side = rng.below(2);
  if (!rng.chance(0.2)) return {random_pneumothorax(side, rng)};
  if (rng.chance(0.5)) return {random_pneumothorax(0, rng), random_pneumothorax(1, rng)};
  // Two separate pockets in one lung: apical and lower lateral (arcs apart, so never touching).
  return {{side, rng.uniform(-40, -25), rng.uniform(25, 45), rng.uniform(0.012, 0.035)},
          {side, rng.uniform(85, 100), rng.uniform(135, 150), rng.uniform(0.01, 0.03)}};
}

// The air region of one pneumothorax inside lung (8-bit, nonzero = lung of that side).
cv::Mat pneumothorax_region(const cv::Mat& lung, const cv::Mat& wall_distance, const Proportions& p,
                            const Pneumothorax& pt) {
  const int size = lung.cols;
  const Pt c = on_side(pt.side, p.center(pt.side));
  const double cx = c.x * size, cy = c.y * size;
  const double max_depth = std::max(pt.depth * size, 2.5);  // visible even on small images
  cv::Mat region = cv::Mat::zeros(lung.size(), CV_8UC1);
  for (int y = 0; y < size; ++y) {
    const uint8_t* in = lung.ptr<uint8_t>(y);
    const float* dist = wall_distance.ptr<float>(y);
    uint8_t* out = region.ptr<uint8_t>(y);
    for (int x = 0; x < size; ++x) {
      if (!in[x]) continue;
      const double lateral = pt.side == 0 ? cx - x : x - cx;
      const double angle = std::atan2(lateral, cy - y) * 180.0 / kPi;
      if (angle <= pt.from || angle >= pt.to) continue;
      const double taper = std::pow(std::sin(kPi * (angle - pt.from) / (pt.to - pt.from)), 0.5);
      if (dist[x] < max_depth * taper) out[x] = 255;
    }
  }
  return region;
}

// ---------------------------------------------------------------------------------------------

io::DicomMeta random_meta(int size, uint64_t seed, Rng& rng) {
  io::DicomMeta m;
  auto uid = [&](uint64_t purpose) {
    return uuid_uid(splitmix64(substream(seed, purpose)), splitmix64(substream(seed, purpose + 100)));
  };
  m.study_instance_uid = uid(11);
  m.series_instance_uid = uid(12);
  m.sop_instance_uid = uid(13);
  m.frame_of_reference_uid = uid(14);
  m.sop_class_uid = "1.2.840.10008.5.1.4.1.1.1";  // Computed Radiography Image Storage
  m.modality = "CR";
  m.body_part_examined = "CHEST";
  m.view_position = rng.chance(0.6) ? "PA" : "AP";
  m.patient_sex = rng.chance(0.55) ? "M" : "F";
  m.patient_age_years = double(18 + rng.below(70));
  // The challenge's detector pitches, scaled so the field of view stays that of a 1024 px image.
  static const double kSpacings[] = {0.139, 0.143, 0.168, 0.171, 0.194311};
  const double spacing = std::round(kSpacings[rng.below(5)] * 1024.0 / size * 1e6) / 1e6;
  m.pixel_spacing_row_mm = m.pixel_spacing_col_mm = spacing;
  m.rows = m.columns = size;
  m.photometric_interpretation = "MONOCHROME2";
  m.bits_allocated = m.bits_stored = 8;
  m.samples_per_pixel = 1;
  m.transfer_syntax_uid = "1.2.840.10008.1.2.4.50";
  return m;
}

// The radiograph being built, in the canonical frame (before the patient is repositioned).
// Density: higher = more attenuating = brighter on the radiograph.
struct Scene {
  int size = 0;
  Proportions p;
  cv::Mat density;               // CV_32F
  cv::Mat body;                  // CV_32F 0..1, soft-edged
  std::array<cv::Mat, 2> lung;   // CV_8U 0/255 per side
  cv::Mat lungs;                 // CV_8U labels 0/1/2
  cv::Mat lung_edge;             // CV_32F 0..1, the lungs with softened borders
  cv::Mat lung_air;              // CV_32F, what the lungs took off the density
  double deepest_air = 0;        // lung_air at its greatest
  cv::Mat markings;              // CV_32F, lung markings before masking to the lungs
  std::vector<cv::Mat> masks;    // CV_8U 0/255 pneumothorax regions

  cv::Mat layer() const { return cv::Mat::zeros(size, size, CV_8UC1); }
  double px(double unit) const { return unit * size; }
};

// Soft tissue: the body, denser towards the abdomen and thinner at its curved edges; mediastinum
// and spine down the middle.
void add_soft_tissue(Scene& sc, Rng& rng) {
  cv::Mat body8 = sc.layer();
  fill(body8, body_outline(sc.p, rng), 255);
  sc.body = soft(body8, 1.0, sc.px(0.02));
  sc.density.create(sc.size, sc.size, CV_32F);
  for (int y = 0; y < sc.size; ++y) {
    const float* b = sc.body.ptr<float>(y);
    float* d = sc.density.ptr<float>(y);
    const double abdomen = 0.08 * std::clamp((double(y) / sc.size - 0.6) / 0.3, 0.0, 1.0);
    for (int x = 0; x < sc.size; ++x) d[x] = float(0.03 + b[x] * (0.5 + abdomen));
  }
  cv::Mat mid8 = sc.layer();
  const double half = rng.uniform(0.06, 0.075);
  fill(mid8, {{0.5 - half, -0.05}, {0.5 + half, -0.05}, {0.5 + half + 0.01, 0.8}, {0.5 - half - 0.01, 0.8}}, 255);
  sc.density += soft(mid8, 0.07, sc.px(0.02));
  cv::Mat spine8 = sc.layer();
  const double vertebra = rng.uniform(0.045, 0.055);
  for (double y = rng.uniform(-0.03, 0.0); y < 1.0; y += vertebra) {
    cv::rectangle(spine8, to_pixels({0.472, y + 0.006}, sc.size), to_pixels({0.528, y + vertebra - 0.006}, sc.size),
                  cv::Scalar(255), cv::FILLED, cv::LINE_AA, kShift);
  }
  sc.density += soft(spine8, 0.04, sc.px(0.003));
}

// Lungs: air, darkest in their depth, lighter towards their borders.
void add_lungs(Scene& sc, Rng& rng) {
  sc.lungs = sc.layer();
  cv::Mat any = sc.layer();
  for (int s = 0; s < 2; ++s) {
    sc.lung[s] = sc.layer();
    fill(sc.lung[s], lung_outline(sc.p, s, rng), 255);
    cv::threshold(sc.lung[s], sc.lung[s], 127, 255, cv::THRESH_BINARY);  // binary for labels and distances
    sc.lungs.setTo(s + 1, sc.lung[s]);
    any |= sc.lung[s];
  }
  sc.lung_edge = soft(any, 1.0, sc.px(0.004));
  const cv::Mat depth = soft(any, 1.0, sc.px(0.035));
  const double air = rng.uniform(0.20, 0.24), deep = 0.18;
  sc.deepest_air = air + deep;
  sc.lung_air = sc.lung_edge.mul(air + deep * depth);
  sc.density -= sc.lung_air;
}

// Heart and aortic knob; on women the breast shadows over the lower lung fields.
void add_heart(Scene& sc, Rng& rng, bool female) {
  cv::Mat heart8 = sc.layer();
  fill(heart8, heart_outline(sc.p, rng), 255);
  // Draws are taken one per statement: the order of evaluation of function arguments is unspecified.
  const Pt knob{rng.uniform(0.56, 0.58), sc.p.top + rng.uniform(0.16, 0.2)};
  const double knob_radius = rng.uniform(0.025, 0.035);
  cv::circle(heart8, to_pixels(knob, sc.size), to_length(knob_radius, sc.size), cv::Scalar(200), cv::FILLED,
             cv::LINE_AA, kShift);
  sc.density += soft(heart8, rng.uniform(0.09, 0.13), sc.px(0.008));
  if (!female) return;
  cv::Mat breast8 = sc.layer();
  for (int s = 0; s < 2; ++s) {
    const Pt c = on_side(s, {sc.p.lateral + 0.35 * sc.p.width(), sc.p.bottom[s] - 0.02});
    cv::ellipse(breast8, to_pixels(c, sc.size), cv::Size(to_length(0.16, sc.size), to_length(0.11, sc.size)), 0, 0, 360,
                cv::Scalar(255), cv::FILLED, cv::LINE_AA, kShift);
  }
  sc.density += soft(breast8, rng.uniform(0.03, 0.06), sc.px(0.03));
}

// Air outside the lungs: trachea and main bronchi, and often the stomach's gas under the left dome.
void add_airways(Scene& sc, Rng& rng) {
  cv::Mat air8 = sc.layer();
  const Pt carina{0.5 + rng.uniform(-0.01, 0.01), sc.p.top + rng.uniform(0.18, 0.22)};
  stroke(air8, {{0.5, -0.02}, carina}, 0.028, 255);
  stroke(air8, {carina, {0.40, carina.y + 0.07}}, 0.016, 255);
  stroke(air8, {carina, {0.61, carina.y + 0.09}}, 0.016, 255);
  if (rng.chance(0.6)) {
    const Pt c = on_side(1, {sc.p.lateral + 0.55 * sc.p.width(), sc.p.bottom[1] + 0.03});
    cv::ellipse(air8, to_pixels(c, sc.size), cv::Size(to_length(0.05, sc.size), to_length(0.03, sc.size)), 0, 0, 360,
                cv::Scalar(255), cv::FILLED, cv::LINE_AA, kShift);
  }
  sc.density -= soft(air8, 0.08, sc.px(0.006));
}

// Ribs and clavicles, over everything inside the body.
void add_bones(Scene& sc, Rng& rng) {
  cv::Mat posterior = sc.layer(), anterior = sc.layer(), clavicles = sc.layer();
  for (int s = 0; s < 2; ++s) {
    draw_ribs(posterior, anterior, sc.p, s, rng);
    draw_clavicle(clavicles, sc.p, s, rng);
  }
  const double blur = sc.px(0.002);
  // Scatter from thick soft tissue washes out the ribs there: they show best over the lungs.
  const cv::Mat rib_contrast = 0.4 + 0.6 * smooth(sc.lung_edge, sc.px(0.02));
  const cv::Mat ribs = soft(posterior, rng.uniform(0.065, 0.085), blur) + soft(anterior, 0.05, blur);
  sc.density += (ribs.mul(rib_contrast) + soft(clavicles, 0.1, blur)).mul(sc.body);
}

// Lung markings: vessel trees plus a fine parenchymal texture (a band of noise frequencies).
// Kept apart from the density until any pneumothorax has cut them away.
void make_markings(Scene& sc, Rng& rng, uint64_t seed) {
  cv::Mat vessels8 = sc.layer();
  for (int s = 0; s < 2; ++s) draw_lung_markings(vessels8, sc.p, s, rng);
  sc.markings = soft(vessels8, rng.uniform(0.08, 0.1), sc.px(0.0008));
  Rng texture_rng(substream(seed, 5));
  const cv::Mat white = normal_noise(sc.size, texture_rng);
  const double fine = std::max(0.7, sc.px(0.005));
  const cv::Mat band = smooth(white, fine) - smooth(white, 3 * fine);
  cv::Scalar mean, sd;
  cv::meanStdDev(band, mean, sd);
  sc.markings += band * (0.016 / std::max(sd[0], 1e-9));
}

// Pneumothorax: air without lung tissue, darker than even the deepest lung and without markings,
// a bright visceral pleural line at its inner border, the collapsed lung behind it a little denser.
void add_pneumothoraces(Scene& sc, Rng& rng) {
  const double extra_air = rng.uniform(0.03, 0.07);
  const int line_px = std::max(1, int(std::lround(sc.size / 600.0)));
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * line_px + 1, 2 * line_px + 1));
  cv::Mat all_air = sc.layer(), pleura = sc.layer();
  std::array<cv::Mat, 2> distance;  // to the chest wall, per side, computed when needed
  for (const Pneumothorax& pt : random_pneumothoraces(rng)) {
    const cv::Mat& lung = sc.lung[pt.side];
    if (distance[pt.side].empty()) cv::distanceTransform(lung, distance[pt.side], cv::DIST_L2, cv::DIST_MASK_PRECISE);
    const cv::Mat region = pneumothorax_region(lung, distance[pt.side], sc.p, pt);
    cv::Mat grown;
    cv::dilate(region, grown, kernel);
    pleura |= grown & lung;
    all_air |= region;
    if (pt.depth > 0.05) sc.density += soft(lung & ~region, 0.03, sc.px(0.01));
    sc.masks.push_back(region);
  }
  pleura.setTo(0, all_air);
  const cv::Mat air_soft = soft(all_air, 1.0, 0.6 * std::max(1.0, sc.size / 1024.0));
  sc.density -= air_soft.mul(sc.deepest_air + extra_air - sc.lung_air);
  sc.density += soft(pleura, rng.uniform(0.09, 0.13), 0.5);
  sc.markings = sc.markings.mul(1.0 - air_soft);
}

Scene render_anatomy(int size, bool female, bool positive, uint64_t seed) {
  Scene sc;
  sc.size = size;
  Rng rng(substream(seed, 2));
  sc.p = random_proportions(rng);
  add_soft_tissue(sc, rng);
  add_lungs(sc, rng);
  add_heart(sc, rng, female);
  add_airways(sc, rng);
  add_bones(sc, rng);
  make_markings(sc, rng, seed);
  if (positive) {
    Rng pathology_rng(substream(seed, 3));  // its own stream: a positive shares its anatomy with the negative
    add_pneumothoraces(sc, pathology_rng);
  }
  sc.density += sc.markings.mul(sc.lung_edge);
  return sc;
}

// Patient positioning: a slight rotation, scale and shift of everything (image and masks alike).
void reposition(Scene& sc, Rng& rng) {
  const int size = sc.density.cols;
  const double angle = rng.uniform(-4, 4), scale = rng.uniform(0.93, 1.05);
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(size / 2.0f, size / 2.0f), angle, scale);
  m.at<double>(0, 2) += rng.uniform(-0.03, 0.03) * size;
  m.at<double>(1, 2) += rng.uniform(-0.03, 0.03) * size;
  auto warp = [&](cv::Mat& image, int interpolation, int border) {
    cv::Mat out;
    cv::warpAffine(image, out, m, image.size(), interpolation, border);
    image = out;
  };
  warp(sc.density, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  warp(sc.lungs, cv::INTER_NEAREST, cv::BORDER_CONSTANT);
  for (cv::Mat& mask : sc.masks) warp(mask, cv::INTER_NEAREST, cv::BORDER_CONSTANT);
}

// Exposure: window, a film-like tone curve (its shoulder compresses the bright soft tissue, so
// bones show best over the lungs), gamma, a slight left-right exposure gradient, quantum noise.
constexpr double kShoulder = 1.35;
cv::Mat expose(const cv::Mat& density, Rng& rng, uint64_t seed) {
  const int size = density.cols;
  const double lo = rng.uniform(-0.05, 0.03), hi = rng.uniform(0.95, 1.1), gamma = rng.uniform(0.8, 1.25);
  // Noise is that of a 1024 px image resampled to this size (averaging n pixels divides it by n).
  const double ramp = rng.uniform(-0.04, 0.04), sigma = rng.uniform(1.5, 3.5) * size / 1024.0;
  Rng noise_rng(substream(seed, 4));
  const cv::Mat noise = normal_noise(size, noise_rng);
  cv::Mat out(size, size, CV_8UC1);
  for (int y = 0; y < size; ++y) {
    const float* d = density.ptr<float>(y);
    const float* n = noise.ptr<float>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < size; ++x) {
      const double v = d[x] + ramp * (double(x) / size - 0.5);
      const double g = std::pow(1.0 - std::pow(1.0 - std::clamp((v - lo) / (hi - lo), 0.0, 1.0), kShoulder), gamma);
      o[x] = uint8_t(std::clamp(std::lround(g * 255.0 + sigma * n[x]), 0L, 255L));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The data set.

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void validate(const SynthOptions& o) {
  if (o.out.empty()) throw core::UsageError("--out: give the folder to write the data set to");
  if (o.count < 1) throw core::UsageError("--count must be at least 1 (got " + std::to_string(o.count) + ")");
  if (o.size < kMinSize || o.size > kMaxSize)
    throw core::UsageError("--size must be between " + std::to_string(kMinSize) + " and " + std::to_string(kMaxSize) +
                           " (got " + std::to_string(o.size) + ")");
  if (!(o.positive_fraction >= 0.0 && o.positive_fraction <= 1.0))
    throw core::UsageError("--positive-fraction must be between 0 and 1 (got " + format_number(o.positive_fraction) + ")");
  if (o.threads < 0) throw core::UsageError("--threads must not be negative");
  if (!core::is_safe_file_stem(o.split_name))
    throw core::UsageError("--split '" + o.split_name + "' cannot be part of a file name: " + core::unsafe_reason(o.split_name));
}

// Exactly round(count * fraction) positives, at positions shuffled by the seed.
std::vector<bool> choose_positives(int count, double fraction, uint64_t seed) {
  const int positives = int(std::lround(count * fraction));
  std::vector<int> order(count);
  for (int i = 0; i < count; ++i) order[i] = i;
  Rng rng(substream(seed, 1));
  for (int i = count - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  std::vector<bool> positive(count, false);
  for (int i = 0; i < positives; ++i) positive[order[i]] = true;
  return positive;
}

uint64_t image_seed(uint64_t seed, int index) { return substream(seed, 1000 + uint64_t(index)); }

struct Written {
  SynthRecord record;
  std::vector<std::string> rles;  // one per region
};

Written write_image(const SynthOptions& o, int index, bool positive) {
  Written w;
  w.record.positive = positive;
  w.record.image_seed = image_seed(o.seed, index);
  const SynthImage img = make_phantom(o.size, positive, w.record.image_seed);
  const io::DicomMeta& m = img.meta;
  w.record.image_id = m.sop_instance_uid;
  w.record.regions = int(img.masks.size());
  const fs::path rel = fs::path("dicom-images-" + o.split_name) / m.study_instance_uid / m.series_instance_uid /
                       (m.sop_instance_uid + ".dcm");
  w.record.dicom_path = rel.generic_string();
  io::DicomWriteOptions options;
  options.encoding = io::DicomEncoding::JpegBaseline;
  io::write_dicom((fs::path(o.out) / rel).string(), img.image, m, options);
  for (const cv::Mat& mask : img.masks) w.rles.push_back(io::rle_encode(mask));
  return w;
}

// Stage-1 format: a space after each comma, one row per region, -1 for an image without any.
std::string labels_text(const std::vector<Written>& images) {
  std::string text = "ImageId, EncodedPixels\n";
  for (const Written& w : images) {
    if (w.rles.empty()) text += w.record.image_id + ", -1\n";
    for (const std::string& rle : w.rles) text += w.record.image_id + ", " + rle + "\n";
  }
  return text;
}

}  // namespace

SynthImage make_phantom(int size, bool positive, uint64_t seed) {
  if (size < kMinSize || size > kMaxSize)
    throw core::UsageError("phantom size must be between " + std::to_string(kMinSize) + " and " +
                           std::to_string(kMaxSize) + " (got " + std::to_string(size) + ")");
  SynthImage out;
  Rng meta_rng(substream(seed, 1));
  out.meta = random_meta(size, seed, meta_rng);
  Scene sc = render_anatomy(size, out.meta.patient_sex == "F", positive, seed);
  Rng view_rng(substream(seed, 6));
  reposition(sc, view_rng);
  out.image = expose(sc.density, view_rng, seed);
  out.masks = std::move(sc.masks);
  out.lungs = sc.lungs;
  return out;
}

SynthSummary synthesize_dataset(const SynthOptions& o) {
  validate(o);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<bool> positive = choose_positives(o.count, o.positive_fraction, o.seed);
  std::vector<Written> written(o.count);

  core::ProgressBar bar("synth", std::size_t(o.count));
  if (!o.progress) bar.set_enabled(false);
  core::parallel_for(std::size_t(o.count), o.threads, [&](std::size_t i) {
    written[i] = write_image(o, int(i), positive[i]);
    bar.tick();
  });
  bar.finish();

  SynthSummary summary;
  summary.dicom_dir = (fs::path(o.out) / ("dicom-images-" + o.split_name)).string();
  summary.labels_csv = (fs::path(o.out) / (o.split_name + "-rle.csv")).string();
  core::write_file_atomic(summary.labels_csv, labels_text(written));
  for (Written& w : written) {
    summary.images++;
    (w.record.positive ? summary.positives : summary.negatives)++;
    summary.regions += std::size_t(w.record.regions);
    summary.records.push_back(std::move(w.record));
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace ptx::data

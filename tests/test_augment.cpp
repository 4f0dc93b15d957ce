#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "ptx/core/error.h"
#include "ptx/data/augment.h"
#include "ptx/data/augment_transforms.h"
#include "test_support.h"

using namespace ptx;
using data::Pipeline;
using data::Sample;

namespace {

// A 96x96 radiograph stand-in: a textured grey background (30..90) and a bright off-centre
// rectangle (220) whose mask is the rectangle.
Sample square_sample(int channels = 1) {
  cv::Mat image(96, 96, CV_8UC1);
  cv::RNG rng(3);
  rng.fill(image, cv::RNG::UNIFORM, 30, 90);
  const cv::Rect r(20, 14, 34, 26);
  image(r).setTo(220);
  Sample s;
  s.mask = cv::Mat::zeros(image.size(), CV_8UC1);
  s.mask(r).setTo(255);
  if (channels == 3) cv::cvtColor(image, image, cv::COLOR_GRAY2RGB);
  s.image = image;
  return s;
}

Sample copy(const Sample& s) { return {s.image.clone(), s.mask.clone()}; }

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// Intersection over union of the mask with the image's bright pixels.
double alignment(const Sample& s) {
  cv::Mat grey = s.image;
  if (grey.channels() == 3) cv::cvtColor(grey, grey, cv::COLOR_RGB2GRAY);
  const cv::Mat bright = grey > 155, mask = s.mask > 127;
  const double inter = cv::countNonZero(bright & mask), uni = cv::countNonZero(bright | mask);
  return uni > 0 ? inter / uni : 1.0;
}

Pipeline one(const std::string& yaml, uint64_t seed = 1) { return Pipeline::from_yaml_string("[" + yaml + "]", "augment", seed); }

const std::vector<std::string> kGeometric = {
    "{type: hflip, p: 1}",
    "{type: vflip, p: 1}",
    "{type: shift_scale_rotate, p: 1, shift: 0.1, scale: 0.2, rotate: 40, border: constant}",
    "{type: shift_scale_rotate, p: 1, shift: 0.1, scale: 0.2, rotate: 40, border: reflect}",
    "{type: elastic, p: 1, alpha: 60, sigma: 5}",
    "{type: grid_distortion, p: 1, steps: 5, distort: 0.4}",
    "{type: optical_distortion, p: 1, distort: 0.6, shift: 0.1}",
    "{type: random_sized_crop, p: 1, scale: [0.5, 0.8], ratio: [0.8, 1.25]}",
    "{type: resize, size: 64}",
    "{type: one_of, p: 1, transforms: [{type: elastic, alpha: 60, sigma: 5}, {type: grid_distortion}, {type: optical_distortion, distort: 0.5}]}",
};

const std::vector<std::string> kPhotometric = {
    "{type: brightness, p: 1, limit: [0.1, 0.2]}",
    "{type: contrast, p: 1, limit: [-0.3, -0.1]}",
    "{type: gamma, p: 1, gamma: [60, 70]}",
    "{type: clahe, p: 1, clip: [2, 4]}",
    "{type: gauss_noise, p: 1, var: [50, 100]}",
    "{type: gauss_blur, p: 1, kernel: [5, 7]}",
    "{type: coarse_dropout, p: 1, holes: [3, 5], size: 0.2, fill: 0}",
};

std::vector<std::string> all_types() {
  std::vector<std::string> v = kGeometric;
  v.insert(v.end(), kPhotometric.begin(), kPhotometric.end());
  return v;
}

}  // namespace

// Geometric transforms move image and mask together: the mask stays on the bright rectangle.
TEST(Augment, GeometricTransformsKeepImageAndMaskAligned) {
  for (int channels : {1, 3})
    for (const std::string& t : kGeometric)
      for (uint64_t seed : {1, 2, 3}) {
        const Sample original = square_sample(channels);
        ASSERT_EQ(alignment(original), 1.0);
        Sample s = copy(original);
        Pipeline p = one(t, seed);
        p(s);
        EXPECT_FALSE(same(s.image, original.image) && same(s.mask, original.mask)) << t << " changed nothing";
        EXPECT_EQ(s.image.channels(), channels);
        EXPECT_EQ(s.mask.type(), CV_8UC1);
        EXPECT_EQ(s.mask.size(), s.image.size()) << t;
        EXPECT_GT(alignment(s), 0.85) << t << " seed " << seed << " channels " << channels;
        // Masks stay binary (nearest interpolation).
        EXPECT_EQ(cv::countNonZero((s.mask > 0) & (s.mask < 255)), 0) << t;
      }
}

// A deliberately misaligned pair would fail the alignment measure: the test can fail.
TEST(Augment, AlignmentMeasureDetectsAMaskLeftBehind) {
  Sample s = square_sample();
  Pipeline p = one("{type: shift_scale_rotate, p: 1, shift: [0.2, 0.2], scale: 0, rotate: 0}");
  Sample moved = copy(s);
  p(moved);
  moved.mask = s.mask;  // image moved, mask not
  EXPECT_LT(alignment(moved), 0.5);
}

TEST(Augment, PhotometricTransformsChangeTheImageOnly) {
  for (int channels : {1, 3})
    for (const std::string& t : kPhotometric) {
      const Sample original = square_sample(channels);
      Sample s = copy(original);
      Pipeline p = one(t);
      p(s);
      EXPECT_FALSE(same(s.image, original.image)) << t;
      EXPECT_TRUE(same(s.mask, original.mask)) << t;
      EXPECT_EQ(s.image.type(), original.image.type()) << t;
    }
}

TEST(Augment, HorizontalFlipIsExact) {
  const Sample original = square_sample();
  Sample s = copy(original);
  Pipeline p = one("{type: hflip, p: 1}");
  p(s);
  cv::Mat expected;
  cv::flip(original.mask, expected, 1);
  EXPECT_TRUE(same(s.mask, expected));
  EXPECT_EQ(s.image.at<uchar>(20, 95 - 25), 220);
}

TEST(Augment, PhotometricValues) {
  Sample s{cv::Mat(8, 8, CV_8UC1, cv::Scalar(100)), cv::Mat()};
  one("{type: brightness, p: 1, limit: [0.2, 0.2]}")(s);
  EXPECT_EQ(s.image.at<uchar>(0, 0), 151);  // 100 + 0.2 * 255
  Sample c{cv::Mat(8, 8, CV_8UC1, cv::Scalar(100)), cv::Mat()};
  one("{type: contrast, p: 1, limit: [0.5, 0.5]}")(c);
  EXPECT_EQ(c.image.at<uchar>(0, 0), 150);  // 100 * 1.5
  Sample g{cv::Mat(8, 8, CV_8UC1, cv::Scalar(64)), cv::Mat()};
  one("{type: gamma, p: 1, gamma: [200, 200]}")(g);
  EXPECT_EQ(g.image.at<uchar>(0, 0), 16);  // 255 * (64/255)^2
}

TEST(Augment, ProbabilityZeroIsTheIdentity) {
  for (const std::string& t : all_types()) {
    std::string zero = t;
    const auto pos = zero.find("p: 1");
    if (pos != std::string::npos) zero.replace(pos, 4, "p: 0");
    else zero.insert(zero.size() - 1, ", p: 0");
    const Sample original = square_sample();
    for (uint64_t seed = 0; seed < 5; ++seed) {
      Sample s = copy(original);
      Pipeline p = one(zero, seed);
      p(s);
      EXPECT_TRUE(same(s.image, original.image)) << zero;
      EXPECT_TRUE(same(s.mask, original.mask)) << zero;
    }
  }
}

TEST(Augment, ProbabilityOneAlwaysAppliesAndOneHalfSometimes) {
  auto count = [](double p) {
    data::HorizontalFlip t(p);
    t.seed(5);
    int n = 0;
    for (int i = 0; i < 200; ++i) {
      t.randomize(cv::Size(8, 8));
      n += t.applies();
    }
    return n;
  };
  EXPECT_EQ(count(1.0), 200);
  EXPECT_EQ(count(0.0), 0);
  EXPECT_GT(count(0.5), 70);
  EXPECT_LT(count(0.5), 130);
}

namespace {
const char* kFirstPlace = R"(
- {type: hflip, p: 0.5}
- {type: one_of, p: 0.3, transforms: [{type: contrast, limit: 0.2}, {type: gamma, gamma: [80, 120]}, {type: brightness, limit: 0.2}]}
- {type: one_of, p: 0.3, transforms: [{type: elastic, alpha: 120, sigma: 6}, {type: grid_distortion}, {type: optical_distortion, distort: 2, shift: 0.5}]}
- {type: shift_scale_rotate, p: 1, shift: 0.0625, scale: 0.1, rotate: 45}
)";
}

TEST(Augment, SameSeedSameOutputDifferentSeedDifferentOutput) {
  const Sample original = square_sample();
  auto run = [&](uint64_t seed) {
    Pipeline p = Pipeline::from_yaml_string(kFirstPlace, "augment", seed);
    std::vector<Sample> out;
    for (int i = 0; i < 4; ++i) {
      out.push_back(copy(original));
      p(out.back());
    }
    return out;
  };
  const auto a = run(11), b = run(11), c = run(12);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(same(a[i].image, b[i].image));
    EXPECT_TRUE(same(a[i].mask, b[i].mask));
    EXPECT_FALSE(same(a[i].image, c[i].image));
  }
  EXPECT_FALSE(same(a[0].image, a[1].image));  // the generator advances between samples
  // A copy continues identically; reseeding restarts.
  Pipeline p = Pipeline::from_yaml_string(kFirstPlace, "augment", 11);
  Sample s = copy(original);
  p(s);
  Pipeline q = p;
  Sample s1 = copy(original), s2 = copy(original);
  p(s1);
  q(s2);
  EXPECT_TRUE(same(s1.image, s2.image));
  EXPECT_TRUE(same(s1.image, a[1].image));
  p.seed(11);
  Sample s3 = copy(original);
  p(s3);
  EXPECT_TRUE(same(s3.image, a[0].image));
}

TEST(Augment, StateSaveAndRestoreResumes) {
  const Sample original = square_sample();
  Pipeline p = Pipeline::from_yaml_string(kFirstPlace, "augment", 3);
  for (int i = 0; i < 3; ++i) {
    Sample s = copy(original);
    p(s);
  }
  const std::string state = p.state();
  Sample after = copy(original);
  p(after);
  Pipeline fresh = Pipeline::from_yaml_string(kFirstPlace, "augment", 999);
  fresh.restore(state);
  Sample resumed = copy(original);
  fresh(resumed);
  EXPECT_TRUE(same(after.image, resumed.image));
  EXPECT_TRUE(same(after.mask, resumed.mask));

  Pipeline other = one("{type: hflip}");
  EXPECT_NE(test::error_of([&] { other.restore(state); }).find("4 transforms"), std::string::npos);
  EXPECT_NE(test::error_of([&] { fresh.restore("garbage"); }), "");
}

TEST(Augment, OneOfPicksByWeight) {
  const Sample original = square_sample();
  cv::Mat flipped;
  cv::flip(original.image, flipped, 1);
  // Weight 0 for vflip: always the horizontal flip.
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Sample s = copy(original);
    one("{type: one_of, p: 1, transforms: [{type: vflip, p: 0}, {type: hflip, p: 1}]}", seed)(s);
    EXPECT_TRUE(same(s.image, flipped));
  }
  // Equal weights: both children chosen over many draws.
  std::vector<std::unique_ptr<data::Transform>> children;
  children.push_back(std::make_unique<data::HorizontalFlip>(0.5));
  children.push_back(std::make_unique<data::VerticalFlip>(0.5));
  data::OneOf group(1.0, std::move(children));
  group.seed(1);
  int first = 0;
  for (int i = 0; i < 100; ++i) {
    group.randomize(cv::Size(4, 4));
    first += group.chosen() == 0;
  }
  EXPECT_GT(first, 25);
  EXPECT_LT(first, 75);
}

TEST(Augment, YamlErrorsNameTheKeyPathAndTheChoices) {
  auto err = [](const std::string& yaml) { return test::error_of([&] { Pipeline::from_yaml_string(yaml); }); };
  std::string e = err("[{type: hflip}, {type: hflp}]");
  EXPECT_NE(e.find("augment[1].type"), std::string::npos) << e;
  EXPECT_NE(e.find("shift_scale_rotate"), std::string::npos) << e;  // the valid types
  e = err("[{type: hflip}, {type: hflip}, {type: shift_scale_rotate, rotat: 15}]");
  EXPECT_NE(e.find("augment[2].rotat"), std::string::npos) << e;
  EXPECT_NE(e.find("rotate"), std::string::npos) << e;  // the valid keys
  e = err("[{type: shift_scale_rotate, rotate: abc}]");
  EXPECT_NE(e.find("augment[0].rotate"), std::string::npos) << e;
  e = err("[{type: hflip, p: 1.5}]");
  EXPECT_NE(e.find("augment[0].p"), std::string::npos) << e;
  e = err("[{type: elastic, border: wrap}]");
  EXPECT_NE(e.find("augment[0].border"), std::string::npos) << e;
  EXPECT_NE(e.find("replicate"), std::string::npos) << e;
  e = err("[{type: one_of, transforms: [{type: hflip}, {type: elastic, sigma: [1, 2, 3]}]}]");
  EXPECT_NE(e.find("augment[0].transforms[1].sigma"), std::string::npos) << e;
  e = err("[{type: one_of, transforms: []}]");
  EXPECT_NE(e.find("augment[0].transforms"), std::string::npos) << e;
  e = err("[{type: gamma, gamma: [120, 80]}]");
  EXPECT_NE(e.find("augment[0].gamma"), std::string::npos) << e;
  e = err("{type: hflip}");
  EXPECT_NE(e.find("augment: expected a list"), std::string::npos) << e;
  e = err("[hflip]");
  EXPECT_NE(e.find("augment[0]"), std::string::npos) << e;
  EXPECT_EQ(err("[{type: hflip}, {type: gauss_blur, kernel: 5}]"), "");
  EXPECT_TRUE(Pipeline::from_yaml_string("").empty());
}

TEST(Augment, RejectsMismatchedMask) {
  Sample s = square_sample();
  s.mask = cv::Mat::zeros(10, 10, CV_8UC1);
  Pipeline p = one("{type: hflip}");
  EXPECT_NE(test::error_of([&] { p(s); }), "");
}

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "ptx/io/png_encode.h"

using namespace ptx;

namespace {
cv::Mat decode(const std::string& png) {
  return cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_UNCHANGED);
}
}  // namespace

TEST(PngEncode, EightAndSixteenBitImagesDecodeToTheSamePixels) {
  cv::RNG rng(3);
  for (int type : {CV_8UC1, CV_16UC1}) {
    for (cv::Size size : {cv::Size(1, 1), cv::Size(37, 19), cv::Size(256, 256)}) {
      cv::Mat img(size, type);
      rng.fill(img, cv::RNG::UNIFORM, 0, type == CV_8UC1 ? 256 : 65536);
      const cv::Mat back = decode(io::encode_png_gray(img));
      ASSERT_EQ(back.type(), type);
      ASSERT_EQ(back.size(), size);
      EXPECT_EQ(cv::norm(img, back, cv::NORM_INF), 0) << "type " << type << " " << size;
    }
  }
}

TEST(PngEncode, CompressesSmoothImages) {
  cv::Mat ramp(512, 512, CV_8UC1);
  for (int y = 0; y < ramp.rows; ++y)
    for (int x = 0; x < ramp.cols; ++x) ramp.at<uint8_t>(y, x) = uint8_t((x + y) / 4);
  EXPECT_LT(io::encode_png_gray(ramp).size(), ramp.total() / 20);
  EXPECT_THROW(io::encode_png_gray(cv::Mat(4, 4, CV_8UC3)), std::invalid_argument);
}

// A small converted data set written directly (PNG images, masks, index.csv), for the dataset and
// loader tests: image i is a textured background with a bright square where its mask is, for the
// positives.
#pragma once
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "ptx/data/index_csv.h"
#include "ptx/io/image.h"

namespace ptx::test {

// n rows (every third one positive), fold = i % folds, size x size PNGs under dir.
inline std::vector<data::IndexRow> write_square_set(const std::filesystem::path& dir, int n, int size, int folds = 3) {
  std::filesystem::create_directories(dir / "images");
  std::filesystem::create_directories(dir / "masks");
  std::vector<data::IndexRow> rows;
  for (int i = 0; i < n; ++i) {
    data::IndexRow r;
    r.image_id = "img" + std::to_string(i);
    r.image = "images/" + r.image_id + ".png";
    r.mask = "masks/" + r.image_id + ".png";
    r.positive = i % 3 == 0 ? 1 : 0;
    r.fold = i % folds;
    cv::Mat image(size, size, CV_8UC1);
    cv::RNG rng(uint64_t(i) + 1);
    rng.fill(image, cv::RNG::UNIFORM, 20 + i, 80 + i);
    cv::Mat mask = cv::Mat::zeros(size, size, CV_8UC1);
    if (r.positive) {
      const cv::Rect sq(size / 8 + i % 5, size / 4, size / 3, size / 4);
      image(sq).setTo(230);
      mask(sq).setTo(255);
    }
    io::write_png((dir / r.image).string(), image);
    io::write_png((dir / r.mask).string(), mask);
    rows.push_back(r);
  }
  data::write_index_csv((dir / "index.csv").string(), rows);
  return rows;
}

}  // namespace ptx::test

// Threshold search: 1,000 images x 1,000 triplets (top 10 x area 10 x bottom 10) with ptx's
// histogram scorer, in memory (maps made on the fly) and end to end from 16-bit PNGs on disk
// (`ptx thresholds search`'s library call), against the Python peer (bench/peer_thresholds.py)
// that re-thresholds every map for every point, timed on a few images and extrapolated.
//   build/bench/bench_thresholds [images=1000] [size=1024]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <random>

#include "bench_support.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/parallel.h"
#include "ptx/core/threads.h"
#include "ptx/eval/threshold_search.h"
#include "ptx/io/rle.h"
#include "ptx/post/probability_map.h"

namespace fs = std::filesystem;
using namespace ptx;

namespace {

// A smooth blob on noise; two thirds of the images are positive (truth = blob > 0.5).
std::pair<cv::Mat, cv::Mat> make_map(int i, int size) {
  std::mt19937 rng(static_cast<unsigned>(i));
  std::uniform_real_distribution<float> u(0, 1);
  const float cy = (0.2f + 0.6f * u(rng)) * size, cx = (0.2f + 0.6f * u(rng)) * size, r = size * (0.03f + 0.09f * u(rng));
  cv::Mat noise(size, size, CV_32F);
  cv::randu(noise, 0.0, 0.3);
  cv::Mat blob(size, size, CV_32F);
  for (int y = 0; y < size; ++y) {
    float* b = blob.ptr<float>(y);
    for (int x = 0; x < size; ++x) b[x] = std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * r * r));
  }
  cv::Mat p = noise + blob * (i % 3 ? 0.9 : 0.5), truth;
  cv::min(p, 1.0, p);
  if (i % 3)
    cv::compare(blob, 0.5, truth, cv::CMP_GT);
  else
    truth = cv::Mat::zeros(size, size, CV_8U);
  return {p, truth};
}

eval::TripletGrid grid_1000() {
  eval::TripletGrid g;
  g.top = eval::TripletGrid::parse_values("0.5:0.9:0.04444444444", "top");
  g.bottom = eval::TripletGrid::parse_values("0.2:0.5:0.03333333333", "bottom");
  g.area.clear();
  for (int i = 0; i < 10; ++i) g.area.push_back(i * 4000 / 9);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 1000, size = argc > 2 ? std::atoi(argv[2]) : 1024;
  const int threads = core::hardware_threads();
  core::set_thread_count(threads);
  const auto grid = grid_1000();
  std::printf("Threshold search, %d images of %dx%d x %zu triplets, %d threads\n\n", images, size, size, grid.size(), threads);

  // In memory: the scorer alone (map generation excluded from the timing).
  eval::TripletGridScorer scorer(grid);
  double measure_s = 0;
  for (int i = 0; i < images; ++i) {
    const auto [p, truth] = make_map(i, size);
    const auto t0 = std::chrono::steady_clock::now();
    scorer.add(p, truth);
    measure_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // From disk: 16-bit PNG maps and an RLE truth CSV, as `ptx thresholds search` reads them.
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-thresholds-" + std::to_string(::getpid()));
  fs::create_directories(work / "maps");
  std::vector<std::string> rows(static_cast<size_t>(images));
  core::parallel_for(static_cast<size_t>(images), threads, [&](size_t i) {
    const auto [p, truth] = make_map(static_cast<int>(i), size);
    post::write_probability_map((work / "maps" / (std::to_string(i) + ".png")).string(), p);
    rows[i] = std::to_string(i) + "," + (cv::countNonZero(truth) ? io::rle_encode(truth) : "-1") + "\n";
  });
  std::string csv = "ImageId,EncodedPixels\n";
  for (const auto& r : rows) csv += r;
  core::write_file_atomic(work / "truth.csv", csv);
  eval::ThresholdSearchOptions o;
  o.probabilities = (work / "maps").string();
  o.truth = (work / "truth.csv").string();
  o.grid = grid;
  o.out = (work / "out").string();
  o.threads = threads;
  const auto r = eval::search_thresholds(o);
  fs::remove_all(work);

  const auto peer = bench::run_json(std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_thresholds.py --images 3 --size " +
                                    std::to_string(size));
  const double peer_s = peer["extrapolated_s_for_1000_images"].get<double>() * images / 1000.0;
  std::printf("| way | seconds | vs Python |\n|---|---:|---:|\n");
  std::printf("| ptx scorer, maps in memory (1 thread) | %.2f | %.0fx |\n", measure_s, peer_s / measure_s);
  std::printf("| ptx thresholds search from 16-bit PNGs (%d threads) | %.2f | %.0fx |\n", threads, r.seconds, peer_s / r.seconds);
  std::printf("| Python, re-thresholding every map per point (extrapolated from %d images) | %.0f | 1x |\n",
              peer["images"].get<int>(), peer_s);
  std::printf("\nbest triplet %s, Dice %.4f; peak RSS %.0f MiB\n", grid.at(r.best).str().c_str(), r.points[r.best].dice,
              core::peak_resident_mib());
  return 0;
}

// Training-loader benchmark: a synthetic converted set (ptx synth phantoms, converted at 256 and
// 512 px) loaded by data::Loader alone, images/s with 1 and 2 workers, without augmentation and
// with the first-place solution's pipeline (hflip, shift-scale-rotate, one of elastic / grid /
// optical distortion, one of brightness / contrast / gamma). OpenCV and LibTorch run one thread
// each, so the workers are the only parallelism. The Python peer (bench/peer_loader.py: a PyTorch
// DataLoader with N worker processes, OpenCV reads, the same augmentations written with OpenCV and
// NumPy as albumentations does) loads the same files in the same run.
//   build/bench/bench_loader [images=240] [batch=8]
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "bench_support.h"
#include "ptx/core/threads.h"
#include "ptx/data/augment.h"
#include "ptx/data/convert.h"
#include "ptx/data/index_csv.h"
#include "ptx/data/loader.h"
#include "ptx/data/synth.h"
#include "ptx/data/train_dataset.h"

namespace fs = std::filesystem;
using namespace ptx;

namespace {

const char* kFirstPlace = R"(
- {type: hflip, p: 0.5}
- {type: one_of, p: 0.3, transforms: [{type: contrast, limit: 0.2}, {type: gamma, gamma: [80, 120]}, {type: brightness, limit: 0.2}]}
- {type: one_of, p: 0.3, transforms: [{type: elastic, alpha: 120, sigma: 6}, {type: grid_distortion}, {type: optical_distortion, distort: 2, shift: 0.5}]}
- {type: shift_scale_rotate, p: 0.5, shift: 0.0625, scale: 0.1, rotate: 45}
)";

struct Timing {
  double wall = 0, cpu = 0;  // seconds to load every image once; CPU seconds of all threads
};

Timing epoch_time(const data::TrainDataset& ds, const data::Pipeline* aug, int workers, int batch) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  data::Loader loader(ds, data::all_indices(ds), aug, 1, o);
  std::size_t n = 0;
  while (auto b = loader.next()) n += std::size_t(b->images.size(0));
  if (n != ds.size()) std::fprintf(stderr, "loaded %zu of %zu\n", n, ds.size());
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          double(std::clock() - cpu_start) / CLOCKS_PER_SEC};
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 240;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 8;
  core::set_thread_count(1);
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-loader-" + std::to_string(::getpid()));

  data::SynthOptions so;
  so.out = (work / "synth").string();
  so.count = images;
  so.size = 512;
  so.positive_fraction = 0.3;
  so.threads = 2;
  so.progress = false;
  const data::SynthSummary synth = data::synthesize_dataset(so);
  const data::Pipeline first_place = data::Pipeline::from_yaml_string(kFirstPlace);

  std::printf("Loader alone, %d synthetic images, batch %d, one epoch each (best of 2): images/s, and CPU ms per image "
              "(all threads; what the figure would be without other load)\n\n", images, batch);
  std::printf("| size | augmentation | ptx 1 worker | ptx 2 workers | Python 1 worker | Python 2 workers | ratio, 2 workers |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (int size : {256, 512}) {
    data::ConvertOptions co;
    co.dicom_dirs = {synth.dicom_dir};
    co.labels = synth.labels_csv;
    co.out = (work / ("converted-" + std::to_string(size))).string();
    co.size = size;
    co.threads = 2;
    co.progress = false;
    data::convert_dataset(co);
    const data::TrainDataset ds(co.out, data::read_index_csv(co.out + "/index.csv"), {});
    epoch_time(ds, nullptr, 2, batch);  // page cache
    for (const data::Pipeline* aug : {static_cast<const data::Pipeline*>(nullptr), &first_place}) {
      std::printf("| %d | %s |", size, aug ? "first place" : "none");
      double ours2 = 0, peer2 = 0;
      for (int workers : {1, 2}) {
        const Timing a = epoch_time(ds, aug, workers, batch), b = epoch_time(ds, aug, workers, batch);
        const Timing& t = a.wall < b.wall ? a : b;
        std::printf(" %.0f (%.1f CPU ms) |", double(ds.size()) / t.wall, 1000 * t.cpu / double(ds.size()));
        ours2 = double(ds.size()) / t.wall;
      }
      for (int workers : {1, 2}) {
        const std::string cmd = std::string(bench::python()) + " " + PTX_BENCH_DIR + "/peer_loader.py " + co.out +
                                " --workers " + std::to_string(workers) + " --batch " + std::to_string(batch) + (aug ? " --augment" : "");
        double rate = 0;
        try {
          rate = bench::run_json(cmd)["images_per_s"].get<double>();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "peer failed: %s\n", e.what());
        }
        std::printf(" %.0f |", rate);
        peer2 = rate;
      }
      std::printf(" %.2fx |", peer2 > 0 ? ours2 / peer2 : 0.0);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}

// End-to-end prediction as the user runs it: the `ptx predict` command itself, a child process
// (its start-up, allocator settings and reader thread included), on synthetic 1024x1024 JPEG
// Baseline DICOMs (ptx synth phantoms) with a U-Net ResNet34 and flip TTA at 512 and 1024, to
// masks and RLE rows; its own figures (`--json`: prediction seconds, first image included, and
// peak RSS). Beside it, what each part of the memory plan pays: ptx without the tensor arena
// (PTX_TENSOR_ARENA=0: freed memory kept on glibc's heap, the fast path before the arena) and with
// neither (PTX_DEFAULT_MALLOC=1 too: glibc's defaults). The peer is bench/peer_predict.py
// (pydicom, OpenCV, PyTorch channels-last + inference mode, NumPy RLE) with glibc's defaults and
// tuned as a knowledgeable Python user would (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_).
//   build/bench/bench_predict [images=50]
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_support.h"
#include "ptx/core/threads.h"
#include "ptx/data/synth.h"

namespace fs = std::filesystem;
using namespace ptx;

namespace {

// glibc serves blocks above 1 GiB from mmap and keeps up to 1 GiB of freed heap: what
// core::reuse_freed_memory does, in the environment variables a Python user can set.
constexpr const char* kTunedMalloc = "MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824";

struct Run {
  double seconds_per_image = 0, peak_mib = 0;
};

Run ptx_predict(const std::string& env, const std::string& ckpt, const std::string& dicoms, const std::string& out,
                int size, const std::string& precision) {
  const auto j = bench::run_json("env " + env + " " PTX_EXECUTABLE " -q --json predict --checkpoint " + ckpt +
                                 " --tta hflip --size " + std::to_string(size) + " --precision " + precision +
                                 " --triplet 0.5,0,0.5 --input " + dicoms + " --out " + out);
  return {j["seconds"].get<double>() / j["images"].get<double>(), j["peak_rss_mib"].get<double>()};
}

Run peer_predict(const std::string& env, const std::string& dicoms, int size, int threads) {
  const auto j = bench::run_json("env " + env + " " + bench::python() + " " PTX_BENCH_DIR "/peer_predict.py --dicom " +
                                 dicoms + " --size " + std::to_string(size) + " --threads " + std::to_string(threads));
  return {1.0 / j["images_per_s"].get<double>(), j["peak_rss_mib"].get<double>()};
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 50;
  const int threads = core::hardware_threads();
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-predict-" + std::to_string(::getpid()));
  data::SynthOptions so;
  so.out = (work / "synth").string();
  so.count = images;
  so.size = 1024;
  so.progress = false;
  data::synthesize_dataset(so);
  const std::string dicoms = so.out + "/dicom-images-train";
  const std::string ckpt = (work / "unet.ckpt").string();
  bench::write_unet34_checkpoint(ckpt, 512);

  struct Row {
    std::string name, env, precision;
    bool peer;
  };
  const std::vector<Row> rows = {
      {"ptx", "", "fp32", false},
      {"ptx without the tensor arena (freed memory kept on the heap)", "PTX_TENSOR_ARENA=0", "fp32", false},
      {"ptx with glibc's malloc defaults, no arena", "PTX_TENSOR_ARENA=0 PTX_DEFAULT_MALLOC=1", "fp32", false},
      {"ptx bf16", "", "bf16", false},
      {"Python, glibc defaults", "", "fp32", true},
      {"Python, malloc tuned", kTunedMalloc, "fp32", true},
  };
  std::printf("End-to-end prediction, %d JPEG DICOMs 1024x1024 -> masks + RLE, U-Net ResNet34, flip TTA "
              "(ptx: one view after the other; Python: both in one batch), %d threads, %s\n\n", images, threads, bench::cpu_model().c_str());
  std::printf("| run | s/image at 512 | s/image at 1024 | 1024 / 512 | peak MiB at 512 | peak MiB at 1024 |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  std::vector<Run> at512, at1024;
  for (const auto& r : rows) {
    for (const int size : {512, 1024}) {
      const auto run = r.peer ? peer_predict(r.env, dicoms, size, threads)
                              : ptx_predict(r.env, ckpt, dicoms, (work / "out").string(), size, r.precision);
      (size == 512 ? at512 : at1024).push_back(run);
    }
    const Run &a = at512.back(), &b = at1024.back();
    std::printf("| %s | %.3f | %.3f | %.2fx | %.0f | %.0f |\n", r.name.c_str(), a.seconds_per_image, b.seconds_per_image,
                b.seconds_per_image / a.seconds_per_image, a.peak_mib, b.peak_mib);
    std::fflush(stdout);
  }
  std::printf("\n| ptx fp32 against | speed at 512 | speed at 1024 | memory at 1024 |\n|---|---:|---:|---:|\n");
  for (std::size_t i = 4; i < rows.size(); ++i)
    std::printf("| %s | %.2fx | %.2fx | %.2fx |\n", rows[i].name.c_str(), at512[i].seconds_per_image / at512[0].seconds_per_image,
                at1024[i].seconds_per_image / at1024[0].seconds_per_image, at1024[0].peak_mib / at1024[i].peak_mib);
  std::printf("\nptx's seconds include the first image (oneDNN builds its kernels on it); the peer's exclude it.\n"
              "Targets: peak RSS at 1024 <= 800 MiB; 1024 costs <= 3.3x 512.\n");
  fs::remove_all(work);
  return 0;
}

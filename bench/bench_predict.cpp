// End-to-end prediction: 1024x1024 JPEG Baseline DICOMs (ptx synth phantoms) to RLE rows with
// U-Net ResNet34 at 512 and flip TTA, through `ptx::predict::predict_files` (reader thread, the
// fast path, both flip views in one batch), against the Python peer (bench/peer_predict.py:
// pydicom, OpenCV, PyTorch channels-last + inference mode, NumPy RLE) on the same files; in fp32,
// and in bf16 (ptx --precision bf16; the peer's model and input in torch.bfloat16).
//   build/bench/bench_predict [images=16]
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "bench_support.h"
#include "ptx/core/threads.h"
#include "ptx/data/synth.h"
#include "ptx/predict/predict_files.h"

namespace fs = std::filesystem;
using namespace ptx;

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 16;
  const int threads = core::hardware_threads();
  core::set_thread_count(threads);
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-predict-" + std::to_string(::getpid()));
  data::SynthOptions so;
  so.out = (work / "synth").string();
  so.count = images;
  so.size = 1024;
  so.progress = false;
  data::synthesize_dataset(so);

  const std::string ckpt = (work / "unet.ckpt").string();
  bench::write_unet34_checkpoint(ckpt, 512);

  // ptx in fp32 and bf16, each after one warm-up image as the peer has (oneDNN builds its
  // kernels on the first pass); then how far bf16 moves the maps, outside the timing.
  const std::string dicoms = so.out + "/dicom-images-train";
  const auto files = predict::radiograph_files({dicoms});
  const auto fp32 = predict::Ensemble::load({ckpt}, {}, torch::kCPU, 0, predict::Precision::fp32);
  const auto bf16 = predict::Ensemble::load({ckpt}, {}, torch::kCPU, 0, predict::Precision::bf16);
  const auto run_ptx = [&](const predict::Ensemble& segmenter, const std::string& name) {
    predict::PredictOptions o;
    o.out = (work / name).string();
    o.image.hflip = true;
    o.inputs = {files.front()};
    predict::predict_files(segmenter, predict::Ensemble(), o);
    o.inputs = {dicoms};
    const auto s = predict::predict_files(segmenter, predict::Ensemble(), o);
    return double(s.images) / s.seconds;
  };
  const double ptx32 = run_ptx(fp32, "fp32");
  const double ptx16 = run_ptx(bf16, "bf16");
  double max_diff = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(4, files.size()); ++i) {
    const cv::Mat gray = predict::read_radiograph(files[i]).gray;
    max_diff = std::max(max_diff, cv::norm(fp32.segment(gray, true), bf16.segment(gray, true), cv::NORM_INF));
  }
  const auto peer = [&](const char* extra) {
    return bench::run_json(std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_predict.py --dicom " + dicoms +
                           " --threads " + std::to_string(threads) + extra)["images_per_s"]
        .get<double>();
  };
  const double py32 = peer(""), py16 = peer(" --bf16");
  std::printf("End-to-end prediction, %d JPEG DICOMs 1024x1024 -> RLE, U-Net ResNet34 at 512, flip TTA, %d threads\n\n",
              images, threads);
  std::printf("| precision | ptx images/s | Python images/s | ptx / Python fp32 | ptx / Python same precision | target |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  std::printf("| fp32 | %.2f | %.2f | %.2fx | %.2fx | 1.4x |\n", ptx32, py32, ptx32 / py32, ptx32 / py32);
  std::printf("| bf16 | %.2f | %.2f | %.2fx | %.2fx | 1.4x |\n", ptx16, py16, ptx16 / py32, ptx16 / py16);
  std::printf("\nbf16 against fp32 (4 images): largest probability difference %.4f\npeak RSS %.0f MiB\n", max_diff,
              bench::peak_rss_mib());
  fs::remove_all(work);
  return 0;
}

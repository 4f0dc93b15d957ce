// End-to-end prediction: 1024x1024 JPEG Baseline DICOMs (ptx synth phantoms) to RLE rows with
// U-Net ResNet34 at 512 and flip TTA, through `ptx::predict::predict_files` (reader thread, the
// fast path, both flip views in one batch), against the Python peer (bench/peer_predict.py:
// pydicom, OpenCV, PyTorch channels-last + inference mode, NumPy RLE) on the same files.
//   build/bench/bench_predict [images=16]
#include <cstdio>
#include <filesystem>

#include "bench_support.h"
#include "ptx/core/threads.h"
#include "ptx/data/synth.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/registry.h"
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

  models::ModelSpec spec;  // U-Net ResNet34, 3 channels, 1 class
  torch::manual_seed(0);
  const auto model = models::build_model(spec);
  const nlohmann::json meta{{"input", {{"size", 512}, {"channels", 3}, {"normalize", "imagenet"}}}};
  const std::string ckpt = (work / "unet.ckpt").string();
  models::save_checkpoint(ckpt, models::make_checkpoint(*model, spec, models::TrainState{{}, meta.dump()}));

  const auto segmenter = predict::Ensemble::load({ckpt}, {}, torch::kCPU);
  predict::PredictOptions o;
  o.inputs = {so.out + "/dicom-images-train"};
  o.out = (work / "out").string();
  o.hflip = true;
  const auto s = predict::predict_files(segmenter, predict::Ensemble(), o);
  const double ptx = double(s.images) / s.seconds;
  const auto peer = bench::run_json(std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_predict.py --dicom " + o.inputs[0] +
                                    " --threads " + std::to_string(threads));
  const double py = peer["images_per_s"].get<double>();
  std::printf("End-to-end prediction, %d JPEG DICOMs 1024x1024 -> RLE, U-Net ResNet34 at 512, flip TTA, %d threads\n\n",
              images, threads);
  std::printf("| ptx images/s | Python images/s | ptx / Python | target |\n|---:|---:|---:|---:|\n");
  std::printf("| %.2f | %.2f | %.2fx | 1.4x |\n\npeak RSS %.0f MiB\n", ptx, py, ptx / py, bench::peak_rss_mib());
  fs::remove_all(work);
  return 0;
}

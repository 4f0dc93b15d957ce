// Training throughput: U-Net ResNet34, ComboLoss (BCE 3, Dice 1, focal 4), Adam 1e-4, at 256 x 256
// batch 4 and 512 x 512 batch 2, through `ptx::train::train_model` on a synthetic converted set,
// with the loader and the first-place augmentation included (images/s of the second epoch; the
// first is the warm-up), against the PyTorch peer (bench/peer_train.py) running the same network
// and loss on tensors already in memory, measured in the same run; in fp32, and with bf16 mixed
// precision (`precision: bf16`; the peer under torch.autocast('cpu', torch.bfloat16)).
//   build/bench/bench_train [images=48]
#include <cstdio>
#include <filesystem>

#include "bench_support.h"
#include "ptx/core/error.h"
#include "ptx/core/memory.h"
#include "ptx/core/threads.h"
#include "ptx/data/convert.h"
#include "ptx/data/synth.h"
#include "ptx/train/config_file.h"
#include "ptx/train/trainer.h"

namespace fs = std::filesystem;
using namespace ptx;

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 48;
  const int threads = core::hardware_threads();
  core::set_thread_count(threads);
  core::reuse_freed_memory();
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-train-" + std::to_string(::getpid()));
  data::SynthOptions so;
  so.out = (work / "synth").string();
  so.count = images;
  so.size = 512;
  so.positive_fraction = 0.5;
  so.progress = false;
  data::synthesize_dataset(so);

  std::printf("Training throughput, U-Net ResNet34, ComboLoss 3/1/4, Adam, %d threads (images/s)\n\n", threads);
  std::printf("| size | batch | precision | ptx, loader + augmentation included | PyTorch peer, no data loading | ptx / peer fp32 | ptx / peer same precision | target |\n");
  std::printf("|-----:|------:|:---------:|------------------------------------:|------------------------------:|----------------:|--------------------------:|-------:|\n");
  for (const auto& [size, batch] : std::vector<std::pair<int, int>>{{256, 4}, {512, 2}}) {
    data::ConvertOptions co;
    co.dicom_dirs = {so.out + "/dicom-images-train"};
    co.labels = so.out + "/train-rle.csv";
    co.out = (work / ("data" + std::to_string(size))).string();
    co.size = size;
    co.progress = false;
    data::convert_dataset(co);
    YAML::Node node = YAML::Load(R"(
data: {fold: -1, channels: 3, normalize: imagenet, workers: 2}
model: {arch: unet, encoder: resnet34}
sampler: {mode: sliding, rate: 0.8}
augment:
  - {type: hflip, p: 0.5}
  - {type: one_of, p: 0.3, transforms: [{type: contrast, limit: 0.2}, {type: gamma, gamma: [80, 120]}, {type: brightness, limit: 0.2}]}
  - {type: one_of, p: 0.3, transforms: [{type: elastic, alpha: 120, sigma: 6}, {type: grid_distortion}, {type: optical_distortion}]}
  - {type: shift_scale_rotate, p: 0.5, shift: 0.0625, scale: 0.1, rotate: 45}
loss: {type: combo, weights: {bce: 3, dice: 1, focal: 4}}
optimizer: {type: adam, lr: 1.0e-4}
epochs: 2
top_k: 1
)");
    node["data"]["index"] = co.out + "/index.csv";
    node["data"]["size"] = size;
    node["batch_size"] = batch;
    double peer_fp32 = 0;
    for (const std::string precision : {"fp32", "bf16"}) {
      node["precision"] = precision;
      node["output"] = (work / ("run" + std::to_string(size) + precision)).string();
      train::TrainOptions to;
      to.progress = false;
      double ptx = 0;
      try {
        ptx = train::train_model(train::parse_train_config(node, "."), to).history.back().images_per_s;
      } catch (const core::Error& e) {  // bf16 refused where this LibTorch's gradients are wrong
        std::printf("| %d | %d | %s | refused: %s | | | | |\n", size, batch, precision.c_str(), e.what());
        continue;
      }
      const auto peer = bench::run_json(std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_train.py --size " +
                                        std::to_string(size) + " --batch " + std::to_string(batch) + " --threads " +
                                        std::to_string(threads) + (precision == "bf16" ? " --bf16" : ""));
      const double py = peer["images_per_s"].get<double>();
      if (precision == "fp32") peer_fp32 = py;
      std::printf("| %d | %d | %s | %.2f | %.2f | %.2fx | %.2fx | 1.2x |\n", size, batch, precision.c_str(), ptx, py,
                  ptx / peer_fp32, ptx / py);
      std::fflush(stdout);
    }
  }
  std::printf("\npeak RSS %.0f MiB\n", core::peak_resident_mib());
  fs::remove_all(work);
  return 0;
}

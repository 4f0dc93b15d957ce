// Forward latency of the model zoo: batch 1, eval mode, median of several runs after warm-up, at
// 512 and 1024 px, plain (NCHW, no_grad) and on the fast path (batch norm folded, channels-last,
// InferenceMode, freed memory kept for reuse, each pass in the planned tensor arena as ptx predict
// runs it), with GFLOP/s (2 x MACs / time), the fraction of the machine's practical peak (one large
// channels-last 3x3 convolution, 256 -> 256 channels at 128 x 128, timed the same way, fp32 and
// bf16) and the peak resident memory of each configuration (each runs in its own child process).
// U-Net ResNet34 is also run by the PyTorch peer (bench/peer_unet.py) in the same session, with
// glibc's malloc defaults and tuned as a knowledgeable Python user would (the MALLOC_* variables
// below), and the table gives the ratio of ptx's fast path to the best Python figure of each.
//   build/bench/bench_models [--sizes 512,1024] [--runs 5] [--warmup 2] [--threads 2]
//                            [--models unet/resnet34,classifier/vgg16,...] [--no-peer] [--default-malloc]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "ptx/core/memory.h"
#include "ptx/core/tensor_arena.h"
#include "ptx/core/threads.h"
#include "ptx/models/complexity.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"

using namespace ptx;

namespace {

struct Settings {
  std::vector<int> sizes{512, 1024};
  int runs = 5, warmup = 2, threads = 2;
  bool peer = true;
  bool reuse_memory = true;  // --default-malloc: measure without core::reuse_freed_memory
  std::vector<std::string> models{"unet/resnet34",           "unet/se_resnext50_32x4d", "unetplusplus/efficientnet_b4",
                                  "attention_unet/none",     "attention_unet/resnet34", "classifier/resnet34",
                                  "classifier/se_resnext50_32x4d", "classifier/densenet121", "classifier/vgg16",
                                  "classifier/efficientnet_b0"};
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

models::ModelSpec spec_of(const std::string& name) {
  const auto parts = split(name, '/');
  if (parts.size() != 2) throw std::runtime_error("model '" + name + "': expected arch/encoder");
  models::ModelSpec spec;
  spec.arch = parts[0];
  spec.encoder = parts[1];
  return spec;
}

// glibc serves blocks above 1 GiB from mmap and keeps up to 1 GiB of freed heap: what
// core::reuse_freed_memory does, in the environment variables a Python user can set.
constexpr const char* kTunedMalloc = "MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824";

// Median milliseconds of `forward` over the settings' runs, after their warm-up.
template <typename F>
double median_ms(const Settings& s, F forward) {
  std::vector<double> ms;
  for (int i = 0; i < s.warmup + s.runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    forward();
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= s.warmup) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Child: the practical peak, GFLOP/s of one large channels-last 3x3 convolution in `dtype`.
int run_peak(const std::string& dtype, const Settings& s) {
  core::reuse_freed_memory();
  core::set_thread_count(s.threads);
  const auto type = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  const int64_t c = 256, hw = 128;
  const auto x = torch::randn({1, c, hw, hw}).to(type).contiguous(at::MemoryFormat::ChannelsLast);
  const auto w = torch::randn({c, c, 3, 3}).to(type).contiguous(at::MemoryFormat::ChannelsLast);
  c10::InferenceMode guard;
  const double ms = median_ms(s, [&] { torch::conv2d(x, w, {}, 1, 1); });
  const double macs = double(c * c * 9 * hw * hw);
  std::printf("%s\n", nlohmann::json{{"gflops", 2.0 * macs / (ms / 1e3) / 1e9}}.dump().c_str());
  return 0;
}

// Child: one model, one size, one mode; prints a JSON line.
int run_one(const std::string& name, int size, const std::string& mode, const Settings& s) {
  const bool fast = mode == "fast";
  if (fast && s.reuse_memory) core::reuse_freed_memory();
  core::set_thread_count(s.threads);
  auto model = models::build_model(spec_of(name));
  model->eval();
  const int64_t macs = models::count_macs([&](const torch::Tensor& x) { return model->forward(x); },
                                          {1, 3, size, size});
  auto x = torch::randn({1, 3, size, size});
  if (fast) {
    models::prepare_for_inference(*model, /*channels_last=*/true);
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
  }
  const std::string key = "bench " + name + " " + std::to_string(size);
  const double median = median_ms(s, [&] {
    if (fast) {
      c10::InferenceMode guard;
      core::TensorArenaScope arena(key);
      model->forward(x);
    } else {
      torch::NoGradGuard guard;
      model->forward(x);
    }
  });
  std::printf("%s\n", nlohmann::json{{"median_ms", median},
                                     {"macs", macs},
                                     {"gflops", 2.0 * double(macs) / (median / 1e3) / 1e9},
                                     {"peak_rss_mib", core::peak_resident_mib()}}
                          .dump()
                          .c_str());
  return 0;
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw std::runtime_error("cannot find this executable's path");
  return std::string(buf, size_t(n));
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::runtime_error(args[i] + " needs a value");
      return args[++i];
    };
    if (args[i] == "--child") {
      const std::string name = value(), size = value(), mode = value();
      for (size_t j = i + 1; j < args.size(); ++j) {
        if (args[j] == "--runs") s.runs = std::stoi(args[++j]);
        else if (args[j] == "--warmup") s.warmup = std::stoi(args[++j]);
        else if (args[j] == "--threads") s.threads = std::stoi(args[++j]);
        else if (args[j] == "--default-malloc") s.reuse_memory = false;
      }
      return name == "peak" ? run_peak(size, s) : run_one(name, std::stoi(size), mode, s);
    }
    if (args[i] == "--sizes") {
      s.sizes.clear();
      for (const auto& v : split(value(), ',')) s.sizes.push_back(std::stoi(v));
    } else if (args[i] == "--runs") s.runs = std::stoi(value());
    else if (args[i] == "--warmup") s.warmup = std::stoi(value());
    else if (args[i] == "--threads") s.threads = std::stoi(value());
    else if (args[i] == "--models") s.models = split(value(), ',');
    else if (args[i] == "--no-peer") s.peer = false;
    else if (args[i] == "--default-malloc") s.reuse_memory = false;
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/bench_models.cpp)\n", args[i].c_str());
      return 2;
    }
  }

  const std::string self = self_path();
  const std::string common = " --runs " + std::to_string(s.runs) + " --warmup " + std::to_string(s.warmup) +
                             " --threads " + std::to_string(s.threads) + (s.reuse_memory ? "" : " --default-malloc");
  std::printf("Forward pass, batch 1, %d threads: median of %d runs after %d warm-up (ms); GFLOP/s = 2 x MACs / median\n\n",
              s.threads, s.runs, s.warmup);
  const auto peak = [&](const char* dtype) {
    return bench::run_json(self + " --child peak " + dtype + " x" + common)["gflops"].get<double>();
  };
  const double peak32 = peak("fp32"), peak16 = peak("bf16");
  std::printf("%s; practical peak (a 256 -> 256 channels-last 3x3 convolution at 128 x 128): %.0f GFLOP/s fp32, %.0f bf16\n\n",
              bench::cpu_model().c_str(), peak32, peak16);
  std::printf("| model | size | GMAC | plain ms | fast ms | fast / plain | fast GFLOP/s | of the fp32 peak | peak MiB plain / fast |\n");
  std::printf("|-------|-----:|-----:|---------:|--------:|-------------:|-------------:|-----------------:|----------------------:|\n");
  std::string peer_rows, peer_torch;
  for (const auto& name : s.models) {
    for (int size : s.sizes) {
      nlohmann::json plain, fast;
      try {
        plain = bench::run_json(self + " --child " + name + " " + std::to_string(size) + " plain" + common);
        fast = bench::run_json(self + " --child " + name + " " + std::to_string(size) + " fast" + common);
      } catch (const std::exception& e) {
        std::printf("| %s | %d | failed: %s |\n", name.c_str(), size, e.what());
        continue;
      }
      const double p = plain["median_ms"], f = fast["median_ms"];
      std::printf("| %s | %d | %.1f | %.0f | %.0f | %.2fx | %.0f | %.0f %% | %.0f / %.0f |\n", name.c_str(), size,
                  fast["macs"].get<double>() / 1e9, p, f, p / f, fast["gflops"].get<double>(),
                  100 * fast["gflops"].get<double>() / peak32, plain["peak_rss_mib"].get<double>(),
                  fast["peak_rss_mib"].get<double>());
      std::fflush(stdout);
      if (s.peer && name == "unet/resnet34") {
        const std::string peer = std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_unet.py --size " +
                                 std::to_string(size) + " --runs " + std::to_string(s.runs) + " --warmup " +
                                 std::to_string(s.warmup) + " --threads " + std::to_string(s.threads) +
                                 " --macs " + std::to_string(fast["macs"].get<double>());
        // Each peer mode with glibc's defaults and with the tuned malloc.
        const auto median = [&](const char* env, const char* mode) {
          const auto j = bench::run_json(std::string("env ") + env + " " + peer + " --mode " + mode);
          peer_torch = j.value("torch", "?");
          return j;
        };
        const auto eager = median("", "eager"), quick = median("", "fast");
        const auto eager_tuned = median(kTunedMalloc, "eager"), quick_tuned = median(kTunedMalloc, "fast");
        const auto ms = [](const nlohmann::json& j) { return j["median_ms"].get<double>(); };
        const double best = std::min(ms(eager), ms(quick)), best_tuned = std::min(ms(eager_tuned), ms(quick_tuned));
        char row[512];
        std::snprintf(row, sizeof(row), "| %d | %.0f / %.0f | %.0f / %.0f | %.0f | %.2fx | %.2fx | %.0f / %.0f |\n", size,
                      ms(eager), ms(eager_tuned), ms(quick), ms(quick_tuned), f, best / f, best_tuned / f,
                      quick["peak_rss_mib"].get<double>(), quick_tuned["peak_rss_mib"].get<double>());
        peer_rows += row;
      }
    }
  }
  if (!peer_rows.empty()) {
    std::printf("\nU-Net ResNet34 against PyTorch %s from Python (bench/peer_unet.py), same session (target: ptx fast >= 1.3x the best Python)\n\n",
                peer_torch.c_str());
    std::printf("| size | Python eager ms, default / tuned malloc | Python channels-last + inference_mode ms, default / tuned | ptx fast ms | best default Python / ptx | best tuned Python / ptx | Python fast peak MiB, default / tuned |\n");
    std::printf("|-----:|----:|----:|----:|----:|----:|----:|\n");
    std::printf("%s", peer_rows.c_str());
  }
  return 0;
}

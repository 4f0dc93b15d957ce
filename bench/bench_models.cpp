// Forward latency of the model zoo: batch 1, eval mode, median of several runs after warm-up, at
// 512 and 1024 px, plain (NCHW, no_grad) and on the fast path (batch norm folded, channels-last,
// InferenceMode, freed memory kept for reuse), with GFLOP/s (2 x MACs / time) and the peak
// resident memory of each configuration (each runs in its own child process). U-Net ResNet34 is
// also run by the PyTorch peer (bench/peer_unet.py) in the same session, and the table gives the
// ratio of ptx's fast path to the best Python figure.
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
  std::vector<double> ms;
  for (int i = 0; i < s.warmup + s.runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (fast) {
      c10::InferenceMode guard;
      model->forward(x);
    } else {
      torch::NoGradGuard guard;
      model->forward(x);
    }
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= s.warmup) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  std::printf("%s\n", nlohmann::json{{"median_ms", median},
                                     {"min_ms", ms.front()},
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
      return run_one(name, std::stoi(size), mode, s);
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
  std::printf("| model | size | GMAC | plain ms | fast ms | fast / plain | fast GFLOP/s | peak MiB plain / fast |\n");
  std::printf("|-------|-----:|-----:|---------:|--------:|-------------:|-------------:|----------------------:|\n");
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
      std::printf("| %s | %d | %.1f | %.0f | %.0f | %.2fx | %.0f | %.0f / %.0f |\n", name.c_str(), size,
                  fast["macs"].get<double>() / 1e9, p, f, p / f, fast["gflops"].get<double>(),
                  plain["peak_rss_mib"].get<double>(), fast["peak_rss_mib"].get<double>());
      std::fflush(stdout);
      if (s.peer && name == "unet/resnet34") {
        const std::string peer = std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_unet.py --size " +
                                 std::to_string(size) + " --runs " + std::to_string(s.runs) + " --warmup " +
                                 std::to_string(s.warmup) + " --threads " + std::to_string(s.threads) +
                                 " --macs " + std::to_string(fast["macs"].get<double>());
        const auto eager = bench::run_json(peer + " --mode eager"), quick = bench::run_json(peer + " --mode fast");
        peer_torch = quick.value("torch", "?");
        const double best = std::min(eager["median_ms"].get<double>(), quick["median_ms"].get<double>());
        char row[512];
        std::snprintf(row, sizeof(row), "| %d | %.0f | %.0f | %.0f | %.2fx | %.0f | %.0f |\n", size,
                      eager["median_ms"].get<double>(), quick["median_ms"].get<double>(), f, best / f,
                      quick["gflops"].get<double>(), quick["peak_rss_mib"].get<double>());
        peer_rows += row;
      }
    }
  }
  if (!peer_rows.empty()) {
    std::printf("\nU-Net ResNet34 against PyTorch %s from Python (bench/peer_unet.py), same session (target: ptx fast >= 1.3x the best Python)\n\n",
                peer_torch.c_str());
    std::printf("| size | Python eager ms | Python channels-last + inference_mode ms | ptx fast ms | best Python / ptx | Python GFLOP/s | Python peak MiB |\n");
    std::printf("|-----:|----------------:|-----------------------------------------:|------------:|------------------:|---------------:|----------------:|\n");
    std::printf("%s", peer_rows.c_str());
  }
  return 0;
}

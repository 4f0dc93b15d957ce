// Memory per worker of `ptx serve`: the server (U-Net ResNet34, flip TTA, at 512 and 1024) with
// 1, 2 and 3 workers, fed by as many clients at once, each posting `images` synthetic 1024x1024
// JPEG DICOMs one after the other; the server's peak RSS (VmHWM of its process) and what each added
// worker costs. The workers share one model; each has its own tensor arena (core/tensor_arena.h).
//   build/bench/bench_serve [images=6]
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "http_client.h"
#include "process_support.h"
#include "ptx/core/threads.h"
#include "ptx/data/synth.h"
#include "ptx/predict/radiograph.h"

namespace fs = std::filesystem;
using namespace ptx;
using namespace std::chrono_literals;

namespace {

// VmHWM of another process, MiB.
double peak_mib_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct Result {
  double peak_mib = 0, images_per_s = 0;
  int failed = 0;
};

Result serve(const std::string& ckpt, const std::vector<std::string>& bodies, int size, int workers, const fs::path& work) {
  const int port = test::free_port();
  test::ChildProcess server({PTX_EXECUTABLE, "-q", "serve", "--checkpoint", ckpt, "--tta", "hflip", "--size",
                             std::to_string(size), "--port", std::to_string(port), "--workers", std::to_string(workers),
                             "--queue", "16"},
                            (work / "serve.log").string());
  Result r;
  if (!test::wait_until([&] { return test::http_request("GET", "127.0.0.1", port, "/api/v1/health").status == 200; }, 120s))
    return {0, 0, -1};
  test::http_request("POST", "127.0.0.1", port, "/api/v1/predict", bodies.front());  // oneDNN builds its kernels
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  std::vector<int> failed(std::size_t(workers), 0);
  for (int c = 0; c < workers; ++c)
    clients.emplace_back([&, c] {
      for (const auto& body : bodies)
        failed[std::size_t(c)] += test::http_request("POST", "127.0.0.1", port, "/api/v1/predict", body, "application/dicom", 600).status != 200;
    });
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_mib = peak_mib_of(server.pid());
  r.images_per_s = double(workers) * double(bodies.size()) / seconds;
  for (int f : failed) r.failed += f;
  server.stop(SIGTERM);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 6;
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-serve-" + std::to_string(::getpid()));
  data::SynthOptions so;
  so.out = (work / "synth").string();
  so.count = images;
  so.size = 1024;
  so.progress = false;
  data::synthesize_dataset(so);
  std::vector<std::string> bodies;
  for (const auto& f : predict::radiograph_files({so.out + "/dicom-images-train"})) {
    std::ifstream in(f, std::ios::binary);
    bodies.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string ckpt = (work / "unet.ckpt").string();
  bench::write_unet34_checkpoint(ckpt, 512);

  std::printf("ptx serve, U-Net ResNet34, flip TTA, 1024x1024 JPEG DICOM uploads, as many clients as workers, %d uploads "
              "each, %d cores, %s\n\n", images, core::hardware_threads(), bench::cpu_model().c_str());
  std::printf("| size | workers | peak RSS MiB | added by this worker MiB | images/s | failed |\n|---:|---:|---:|---:|---:|---:|\n");
  for (const int size : {512, 1024}) {
    double previous = 0;
    for (int workers = 1; workers <= 3; ++workers) {
      const Result r = serve(ckpt, bodies, size, workers, work);
      std::printf("| %d | %d | %.0f | %s | %.2f | %d |\n", size, workers, r.peak_mib,
                  workers == 1 ? "" : std::to_string(int(r.peak_mib - previous + 0.5)).c_str(), r.images_per_s, r.failed);
      std::fflush(stdout);
      previous = r.peak_mib;
    }
  }
  fs::remove_all(work);
  return 0;
}

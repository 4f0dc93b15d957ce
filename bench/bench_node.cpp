// ptx node end to end against a real PACS: copies of the challenge's siim-sample DICOMs (new
// study, series and instance UIDs each) sent by DCMTK's storescu to `ptx node`, predicted with
// U-Net ResNet34 at 512 and flip TTA (--triplet 0,0,0: every image positive, so every image costs
// a SEG), and the SEG stored by C-STORE in a private Orthanc. Reports images/s from the first
// C-STORE to the last SEG in Orthanc, the latency of single images (C-STORE to SEG in Orthanc,
// study timeout 0), and, as the peer measured in the same run, `ptx predict --dicom-seg` on the
// same files (the same models with no network in between).
//   build/bench/bench_node [images=50]
#include <dcmtk/dcmdata/dctk.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "bench_support.h"
#include "orthanc_process.h"
#include "process_support.h"

namespace fs = std::filesystem;
using namespace ptx;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Copies of the sample files, each its own study, series and instance (a PACS would keep one of
// several identical instances).
std::vector<std::string> copies(const std::string& sample, const fs::path& out, int count) {
  std::vector<std::string> sources, files;
  for (const auto& e : fs::directory_iterator(sample))
    if (e.path().extension() == ".dcm") sources.push_back(e.path().string());
  std::sort(sources.begin(), sources.end());
  fs::create_directories(out);
  char uid[100];
  for (int i = 0; i < count; ++i) {
    DcmFileFormat f;
    if (f.loadFile(sources[i % sources.size()].c_str()).bad()) throw std::runtime_error("cannot read " + sources[i % sources.size()]);
    DcmDataset& ds = *f.getDataset();
    ds.putAndInsertString(DCM_StudyInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
    ds.putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
    ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    const std::string path = (out / ("copy-" + std::to_string(i) + ".dcm")).string();
    if (f.saveFile(path.c_str(), ds.getOriginalXfer()).bad()) throw std::runtime_error("cannot write " + path);
    files.push_back(path);
  }
  return files;
}

// The copies are JPEG Baseline, which storescu proposes only when told (-xy).
int storescu(const std::vector<std::string>& files, int port) {
  std::string command = "/usr/bin/storescu -xy -R -aet MODALITY -aec PTX 127.0.0.1 " + std::to_string(port);
  for (const auto& f : files) command += " " + f;
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// Waits until Orthanc holds `count` SEGs; the seconds since `start`, or -1 after the timeout.
double wait_for_segs(const test::OrthancProcess& orthanc, std::size_t count, Clock::time_point start) {
  const bool done = test::wait_until([&] { return orthanc.seg_instances().size() >= count; }, 600s);
  return done ? seconds_since(start) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 50;
  const std::string sample = bench::shared_data().empty() ? "" : bench::shared_data() + "/siim-sample";
  if (sample.empty() || !test::OrthancProcess::absent().empty() || !fs::exists("/usr/bin/storescu")) {
    std::fprintf(stderr, "bench_node needs ../shared/data/siim-sample, Orthanc and DCMTK's storescu (scripts/setup.sh)\n");
    return 1;
  }
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-node-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const std::string ckpt = (work / "unet.ckpt").string();
  bench::write_unet34_checkpoint(ckpt, 512);
  const auto files = copies(sample, work / "copies", images);
  const auto singles = copies(sample, work / "singles", 3);

  const int node_port = test::free_port();
  test::OrthancProcess orthanc(work.string(), "PTX", node_port);
  if (!orthanc.up) {
    std::fprintf(stderr, "Orthanc did not start; see %s\n", orthanc.log.c_str());
    return 1;
  }
  test::ChildProcess node({PTX_EXECUTABLE, "node", "--checkpoint", ckpt, "--triplet", "0,0,0", "--tta", "hflip", "--aet",
                           "PTX", "--port", std::to_string(node_port), "--spool", (work / "spool").string(), "--study-timeout",
                           "0", "--destination", "ORTHANC@127.0.0.1:" + std::to_string(orthanc.dicom_port)},
                          (work / "node.log").string());
  if (!test::wait_until([&] { return std::system(("/usr/bin/echoscu -aec PTX 127.0.0.1 " + std::to_string(node_port) + " >/dev/null 2>&1").c_str()) == 0; }, 60s)) {
    std::fprintf(stderr, "ptx node did not start; see %s\n", (work / "node.log").c_str());
    return 1;
  }

  // Latency of single images, one after the other (the first also warms oneDNN up).
  std::vector<double> latencies;
  for (std::size_t i = 0; i < singles.size(); ++i) {
    const auto start = Clock::now();
    storescu({singles[i]}, node_port);
    latencies.push_back(wait_for_segs(orthanc, i + 1, start));
  }
  const auto start = Clock::now();
  storescu(files, node_port);
  const double stored = seconds_since(start);
  const double total = wait_for_segs(orthanc, singles.size() + files.size(), start);
  node.stop(SIGTERM);

  // The peer: the same files through `ptx predict --dicom-seg`, no network.
  const auto predict_start = Clock::now();
  const std::string predict = std::string(PTX_EXECUTABLE) + " -q predict --checkpoint " + ckpt +
                              " --triplet 0,0,0 --tta hflip --dicom-seg --input " + (work / "copies").string() + " --out " +
                              (work / "predict").string() + " >/dev/null 2>&1";
  const int predicted = std::system(predict.c_str());
  const double predict_s = seconds_since(predict_start);

  std::sort(latencies.begin(), latencies.end());
  std::printf("ptx node end to end, %d siim-sample copies (1024x1024 JPEG) -> SEG in Orthanc, U-Net ResNet34 at 512, "
              "flip TTA, %s\n\n", images, bench::cpu_model().c_str());
  std::printf("| path | seconds | images/s |\n|---|---:|---:|\n");
  std::printf("| storescu -> ptx node -> C-STORE -> Orthanc (all %d SEGs stored) | %.1f | %.2f |\n", images, total, images / total);
  std::printf("| ptx predict --dicom-seg, same files (peer, no network) | %.1f | %.2f%s |\n", predict_s, images / predict_s,
              predicted == 0 ? "" : " (failed)");
  std::printf("\nstorescu finished sending after %.1f s; end to end / predict: %.2fx\n", stored, (images / total) / (images / predict_s));
  std::printf("latency of one image (C-STORE to SEG in Orthanc, --study-timeout 0; the first warms up): %.2f s, %.2f s, %.2f s\n",
              latencies[0], latencies[1], latencies[2]);
  fs::remove_all(work);
  return 0;
}

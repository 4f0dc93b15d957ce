// End-to-end conversion benchmark: 1024x1024 JPEG Baseline DICOMs (the challenge's real sample
// images, copied under new ImageIds) with labels, to PNG images and masks at 512 and 1024, with 1
// and 2 threads, against the Python peer (bench/peer_convert.py) with 1 and 2 processes.
//   build/bench/bench_convert [copies=20]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench_support.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/threads.h"
#include "ptx/data/convert.h"
#include "ptx/io/label_csv.h"

namespace fs = std::filesystem;
using namespace ptx;

namespace {
double folder_bytes(const fs::path& dir) {
  double total = 0;
  for (const auto& e : fs::directory_iterator(dir)) total += double(e.file_size());
  return total;
}
}  // namespace

int main(int argc, char** argv) {
  const int copies = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::string data = bench::shared_data();
  if (data.empty()) {
    std::fprintf(stderr, "../shared/data is absent: the conversion benchmark needs the SIIM sample DICOMs\n");
    return 0;
  }
  core::set_thread_count(core::hardware_threads());
  const fs::path work = fs::temp_directory_path() / ("ptx-bench-convert-" + std::to_string(::getpid()));
  fs::create_directories(work / "dicom");

  // Data set: every sample DICOM `copies` times under new ImageIds, with its label rows.
  const io::LabelSet labels = io::read_label_csv(data + "/siim-sample/train-rle-sample.csv");
  std::string csv = "ImageId, EncodedPixels\n";
  std::size_t images = 0;
  for (const io::ImageLabels& img : labels.images)
    for (int c = 0; c < copies; ++c) {
      const std::string id = img.image_id + "." + std::to_string(c);
      fs::copy_file(data + "/siim-sample/" + img.image_id + ".dcm", work / "dicom" / (id + ".dcm"));
      for (const io::LabelRow& row : img.rows) csv += id + ", " + row.rle + "\n";
      ++images;
    }
  core::write_file_atomic(work / "labels.csv", csv);
  // Read every file once so both sides start from the page cache.
  for (const auto& e : fs::directory_iterator(work / "dicom")) core::read_file(e.path());

  std::printf("Conversion of %zu 1024x1024 JPEG Baseline DICOMs with masks to PNG (images/s)\n\n", images);
  std::printf("| size | workers | ptx | Python peer | ptx / peer | target (1.5x peer with 2 processes) |\n");
  std::printf("|-----:|--------:|----:|------------:|-----------:|------------------------------------:|\n");
  std::string sizes;  // PNG bytes of each side, so speed is not bought with bigger files
  for (int size : {512, 1024}) {
    double ptx_rate[3] = {0, 0, 0}, peer_rate[3] = {0, 0, 0};  // by worker count
    for (int workers : {1, 2}) {
      data::ConvertOptions o;
      o.dicom_dirs = {(work / "dicom").string()};
      o.labels = (work / "labels.csv").string();
      o.out = (work / ("ptx-" + std::to_string(size) + "-" + std::to_string(workers))).string();
      o.size = size;
      o.threads = workers;
      o.progress = false;
      const data::ConvertSummary s = data::convert_dataset(o);
      ptx_rate[workers] = s.written / s.seconds;
      const std::string peer_out = (work / ("peer-" + std::to_string(size) + "-" + std::to_string(workers))).string();
      const nlohmann::json p = bench::run_json(std::string(bench::python()) + " " + PTX_BENCH_DIR "/peer_convert.py --dicom " +
                                               (work / "dicom").string() + " --labels " + (work / "labels.csv").string() +
                                               " --out " + peer_out + " --size " + std::to_string(size) +
                                               " --processes " + std::to_string(workers) + " --json");
      peer_rate[workers] = p["images_per_s"].get<double>();
      if (workers == 2)
        sizes += "images at " + std::to_string(size) + ": ptx " + std::to_string(int(folder_bytes(o.out + "/images") / images / 1024)) +
                 " KiB per PNG, peer " + std::to_string(int(folder_bytes(peer_out + "/images") / images / 1024)) + " KiB\n";
    }
    const double target = 1.5 * peer_rate[2];
    for (int workers : {1, 2})
      std::printf("| %4d | %7d | %5.1f | %11.1f | %9.2fx | %s |\n", size, workers, ptx_rate[workers], peer_rate[workers],
                  ptx_rate[workers] / peer_rate[workers],
                  workers == 2 ? (std::to_string(int(target)) + (ptx_rate[2] >= target ? " met" : " NOT met")).c_str() : "");
  }
  std::printf("\n%speak RSS of the ptx bench process: %.0f MiB\n", sizes.c_str(), core::peak_resident_mib());
  fs::remove_all(work);
  return 0;
}

// RLE decode and encode on the real holdout labels (1,141 rows), ms per 1024x1024 mask and rows/s,
// with Google Benchmark, then the NumPy peer (bench/peer_rle.py) measured in the same run.
//   build/bench/bench_rle [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

#include "bench_support.h"
#include "ptx/io/label_csv.h"
#include "ptx/io/rle.h"

using namespace ptx;

namespace {

std::vector<std::string> g_rows;      // every RLE row of holdout.csv, as the peer times them
std::vector<cv::Mat> g_masks;          // their decoded masks
std::vector<cv::Mat> g_positive_masks;

void BM_DecodeRow(benchmark::State& state) {
  for (auto _ : state)
    for (const std::string& rle : g_rows) benchmark::DoNotOptimize(io::rle_decode_mask(rle, 1024, 1024));
  state.SetItemsProcessed(state.iterations() * g_rows.size());
}

void BM_DecodeRowToRuns(benchmark::State& state) {  // what evaluate and the metric use: no mask
  for (auto _ : state)
    for (const std::string& rle : g_rows) benchmark::DoNotOptimize(io::rle_decode(rle, 1024 * 1024));
  state.SetItemsProcessed(state.iterations() * g_rows.size());
}

void encode(benchmark::State& state, const std::vector<cv::Mat>& masks) {
  for (auto _ : state)
    for (const cv::Mat& m : masks) benchmark::DoNotOptimize(io::rle_encode(m));
  state.SetItemsProcessed(state.iterations() * masks.size());
}
void BM_EncodeMask(benchmark::State& state) { encode(state, g_masks); }
void BM_EncodePositiveMask(benchmark::State& state) { encode(state, g_positive_masks); }

BENCHMARK(BM_DecodeRow)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeRowToRuns)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeMask)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodePositiveMask)->Unit(benchmark::kMillisecond);

// Keeps Google Benchmark's table and remembers ms per row for the comparison.
class Reporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ms_per_row;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const std::size_t n = r.benchmark_name().find("Positive") != std::string::npos ? g_positive_masks.size() : g_rows.size();
      ms_per_row[r.benchmark_name()] = r.GetAdjustedRealTime() / n;  // the unit is ms
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::string data = bench::shared_data();
  if (data.empty()) {
    std::fprintf(stderr, "../shared/data is absent: the RLE benchmark needs siim-labels/holdout.csv\n");
    return 0;
  }
  const std::string csv = data + "/siim-labels/holdout.csv";
  const io::LabelSet set = io::read_label_csv(csv);
  for (const auto& img : set.images)
    for (const auto& row : img.rows) {
      g_rows.push_back(row.rle);
      g_masks.push_back(io::rle_decode_mask(row.rle, 1024, 1024));
      if (cv::countNonZero(g_masks.back())) g_positive_masks.push_back(g_masks.back());
    }
  benchmark::Initialize(&argc, argv);
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  const nlohmann::json peer = bench::run_json(std::string(bench::python()) + " " PTX_BENCH_DIR "/peer_rle.py --labels " + csv + " --repeat 3 --json");
  auto row = [&](const char* what, const std::string& name, double peer_ms) {
    const double ms = reporter.ms_per_row[name];
    std::printf("| %-28s | %8.4f | %9.0f | %8.4f | %9.0f | %6.1fx |\n", what, ms, 1000.0 / ms, peer_ms, 1000.0 / peer_ms, peer_ms / ms);
  };
  std::printf("\nRLE on %s (%zu rows, %zu positive), 1024x1024 masks, side by side with NumPy\n\n", csv.c_str(), g_rows.size(), g_positive_masks.size());
  std::printf("| operation                    | ptx ms   | ptx rows/s | NumPy ms | NumPy rows/s | speed-up (target 10x) |\n");
  std::printf("|------------------------------|---------:|----------:|---------:|----------:|-------:|\n");
  row("decode to mask, all rows", "BM_DecodeRow", peer["decode_ms_per_mask"].get<double>());
  row("decode to runs, all rows", "BM_DecodeRowToRuns", peer["decode_ms_per_mask"].get<double>());
  row("encode, all rows", "BM_EncodeMask", peer["encode_ms_per_mask"].get<double>());
  row("encode, positive rows", "BM_EncodePositiveMask", peer["encode_ms_per_positive_mask"].get<double>());
  std::printf("\npeak RSS %.0f MiB (all %zu decoded masks held for the encode runs)\n", core::peak_resident_mib(), g_masks.size());
  return 0;
}

// `ptx synth`: the project's own data set. Phantom chest radiographs, some with a pneumothorax,
// written exactly like the challenge's files (nested DICOM folders, JPEG Baseline, stage-1 RLE
// CSV), so tests and the demo run end to end without the real data. Same seed, same bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "ptx/io/dicom.h"

namespace ptx::data {

// One phantom radiograph in memory.
struct SynthImage {
  cv::Mat image;                // CV_8UC1, size x size
  std::vector<cv::Mat> masks;   // one CV_8UC1 0/255 mask per pneumothorax region (empty = negative)
  cv::Mat lungs;                // CV_8UC1 lung fields: 0 outside, 1 patient's right (image left), 2 left
  io::DicomMeta meta;           // UIDs, sex, age, view, spacing: everything write_dicom needs
};

// Renders one phantom. Pure: the result depends only on the arguments. A positive phantom has one
// air region (sometimes two) along the apical/lateral pleura, darker than lung, without lung
// markings, bounded by a thin bright visceral pleural line; its mask is the air region.
SynthImage make_phantom(int size, bool positive, uint64_t seed);

struct SynthOptions {
  std::string out;                 // output folder
  int count = 100;                 // images, >= 1
  int size = 1024;                 // width = height, 64..4096
  double positive_fraction = 0.3;  // round(count * fraction) images are positive
  uint64_t seed = 1;
  int threads = 0;                 // 0 = all cores
  bool progress = true;
  std::string split_name = "train";  // dicom-images-<split>/ and <split>-rle.csv
};

// What was written for one image (in index order), enough to re-render it with make_phantom.
struct SynthRecord {
  std::string image_id;    // SOPInstanceUID
  std::string dicom_path;  // relative to SynthOptions::out
  bool positive = false;
  int regions = 0;
  uint64_t image_seed = 0;  // make_phantom(size, positive, image_seed) gives the same image
};

struct SynthSummary {
  std::size_t images = 0, positives = 0, negatives = 0, regions = 0;
  std::string dicom_dir;   // <out>/dicom-images-<split>
  std::string labels_csv;  // <out>/<split>-rle.csv
  double seconds = 0;
  std::vector<SynthRecord> records;
};

// Writes <out>/dicom-images-<split>/<Study>/<Series>/<SOP>.dcm (JPEG Baseline, modality CR) and
// <out>/<split>-rle.csv in the stage-1 format (header "ImageId, EncodedPixels", a space before each
// value, one row per region, " -1" for negatives). Every file is written atomically and is
// byte-identical between runs with the same options, whatever the thread count. Bad options are
// core::UsageError naming the option; write failures are core::Error.
SynthSummary synthesize_dataset(const SynthOptions& options);

}  // namespace ptx::data

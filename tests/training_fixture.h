// A small converted synthetic data set for training tests: `ptx synth` phantoms converted with
// `ptx convert`, made once per test process.
#pragma once
#include <string>

#include "ptx/data/convert.h"
#include "ptx/data/synth.h"
#include "test_support.h"

namespace ptx::test {

// <tmp>/data/index.csv of `count` synthetic radiographs at size x size (2 folds, ~half positive).
inline const std::string& synthetic_training_index(int count = 24, int size = 64) {
  static TempDir dir;
  static const std::string index = [&] {
    data::SynthOptions s;
    s.out = dir / "synth";
    s.count = count;
    s.size = size * 2;
    s.positive_fraction = 0.5;
    s.seed = 3;
    s.progress = false;
    data::synthesize_dataset(s);
    data::ConvertOptions c;
    c.dicom_dirs = {dir / "synth/dicom-images-train"};
    c.labels = dir / "synth/train-rle.csv";
    c.out = dir / "data";
    c.size = size;
    c.folds = 2;
    c.progress = false;
    data::convert_dataset(c);
    return c.out + "/index.csv";
  }();
  return index;
}

}  // namespace ptx::test

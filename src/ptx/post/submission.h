// `ptx submit`: the challenge's submission CSV from saved probability maps and a triplet.
#pragma once
#include <cstddef>
#include <string>

#include "ptx/post/triplet.h"

namespace ptx::post {

struct SubmissionOptions {
  std::string probabilities;      // folder of <ImageId>.png probability maps (ptx predict's probabilities/)
  Triplet triplet;
  std::string out;                // submission CSV to write (atomically)
  std::string sample_submission;  // optional: exactly its ImageIds, in its order
  int threads = 1;
  bool progress = false;
};

struct SubmissionSummary {
  std::size_t images = 0, positive = 0;
  double seconds = 0;
};

// One row per image: "ImageId,EncodedPixels", SIIM relative RLE of the triplet's mask, "-1" when
// empty. Without a sample submission, every map of the folder in ImageId order. With one, a
// missing map is an Error listing the first missing ImageIds, and an ImageId that is not a safe
// file name is an Error naming its line (it is never used as a path).
SubmissionSummary write_submission(const SubmissionOptions& options);

}  // namespace ptx::post

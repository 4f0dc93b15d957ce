// One received instance through the models, with the code of `ptx predict` (predict_image): a
// radiograph that is not a chest radiograph is skipped with the reason; otherwise the mask, the
// overlay, the RLE, and the DICOM results (SEG of a positive image; with `sc` its Secondary
// Capture; with `report_negatives` an SC saying nothing was found) go into the record's folder.
// Errors become the record's reason: one bad instance never stops the node.
#pragma once
#include <filesystem>

#include "ptx/dicomnet/instance_record.h"
#include "ptx/predict/ensemble.h"
#include "ptx/predict/predict_image.h"

namespace ptx::dicomnet {

struct ProcessOptions {
  predict::ImagePredictionOptions image;
  bool sc = false;                // Secondary Capture of each positive image
  bool report_negatives = false;  // Secondary Capture "no pneumothorax found" of each negative image
};

struct Models {
  predict::Ensemble segmenter, classifier;
};

// Fills record (its id and received time already set) from the instance at source, writing the
// outputs into out_dir. Never throws for a bad instance (status "error" with the reason).
void process_instance(const Models& models, const std::filesystem::path& source, const std::filesystem::path& out_dir,
                      const ProcessOptions& options, InstanceRecord& record);

}  // namespace ptx::dicomnet

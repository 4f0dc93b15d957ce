// The inputs of the commands that run models (predict, overlay, gradcam) and of `ptx serve`:
// radiograph files or folders, DICOM or PNG/JPEG, named by their file stem (a challenge DICOM's
// stem is its SOPInstanceUID, the ImageId).
#pragma once
#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ptx/io/dicom.h"

namespace ptx::predict {

// Files as given and the radiographs (.dcm .png .jpg .jpeg) found under folders, in that order.
// A missing input, or none found at all, is a core::Error.
std::vector<std::string> radiograph_files(const std::vector<std::string>& inputs);

// By extension: .dcm (any case) is DICOM, anything else an image file.
bool is_dicom_path(const std::string& path);

struct Radiograph {
  std::string path, image_id;  // image_id: the file stem, checked to be a safe file name
  cv::Mat gray;                // CV_8UC1 at the image's own size (ptx's DICOM rendering)
  std::optional<io::DicomMeta> meta;  // DICOM inputs only
  double mm2_per_pixel = 0;    // from PixelSpacing; 0 when unknown
};

// Reads one radiograph. A file stem that cannot be a file name, or an unreadable file, is a
// core::Error naming the file.
Radiograph read_radiograph(const std::string& path);

}  // namespace ptx::predict

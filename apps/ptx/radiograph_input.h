// Inputs of the picture commands (overlay, gradcam): radiograph files or folders, DICOM or PNG/JPEG,
// named by their file stem (a challenge DICOM's stem is its SOPInstanceUID, the ImageId).
#pragma once
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "ptx/core/error.h"
#include "ptx/data/siim_index.h"
#include "ptx/io/dicom.h"
#include "ptx/io/image.h"

namespace ptx::app {

// Files as given and the radiographs (.dcm .png .jpg .jpeg) found under folders, in that order.
inline std::vector<std::string> radiograph_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files, dirs;
  for (const auto& in : inputs) {
    if (std::filesystem::is_directory(in)) dirs.push_back(in);
    else if (std::filesystem::is_regular_file(in)) files.push_back(in);
    else throw core::Error(in + ": no such file or folder");
  }
  const auto found = data::find_files(dirs, {".dcm", ".png", ".jpg", ".jpeg"});
  files.insert(files.end(), found.begin(), found.end());
  if (files.empty()) throw core::Error("no DICOM, PNG or JPEG files in the inputs");
  return files;
}

inline bool is_dicom_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".dcm";
}

// 8-bit grey pixels of a DICOM (ptx's rendering) or of an image file.
inline cv::Mat read_radiograph_gray(const std::string& path) {
  return is_dicom_path(path) ? io::read_dicom(path, /*with_float=*/false).gray8 : io::read_gray_image(path);
}

inline std::string image_id_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

}  // namespace ptx::app

#include "ptx/predict/radiograph.h"

#include <filesystem>

#include "ptx/core/error.h"
#include "ptx/core/safe_name.h"
#include "ptx/core/strings.h"
#include "ptx/data/siim_index.h"
#include "ptx/io/image.h"

namespace fs = std::filesystem;

namespace ptx::predict {

std::vector<std::string> radiograph_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files, dirs;
  for (const auto& in : inputs) {
    if (fs::is_directory(in)) dirs.push_back(in);
    else if (fs::is_regular_file(in)) files.push_back(in);
    else throw core::Error(in + ": no such file or folder");
  }
  const auto found = data::find_files(dirs, {".dcm", ".png", ".jpg", ".jpeg"});
  files.insert(files.end(), found.begin(), found.end());
  if (files.empty()) throw core::Error("no DICOM, PNG or JPEG files in the inputs");
  return files;
}

bool is_dicom_path(const std::string& path) {
  return core::lower(fs::path(path).extension().string()) == ".dcm";
}

Radiograph read_radiograph(const std::string& path) {
  Radiograph r;
  r.path = path;
  r.image_id = fs::path(path).stem().string();
  if (!core::is_safe_file_stem(r.image_id))
    throw core::Error(path + ": the file name cannot be an ImageId: " + core::unsafe_reason(r.image_id));
  if (is_dicom_path(path)) {
    auto d = io::read_dicom(path, /*with_float=*/false);
    r.gray = d.gray8;
    if (d.meta.pixel_spacing_row_mm && d.meta.pixel_spacing_col_mm)
      r.mm2_per_pixel = *d.meta.pixel_spacing_row_mm * *d.meta.pixel_spacing_col_mm;
    r.meta = std::move(d.meta);
  } else {
    r.gray = io::read_gray_image(path);
  }
  return r;
}

}  // namespace ptx::predict

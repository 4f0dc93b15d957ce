#include "ptx/serve/upload.h"

namespace ptx::serve {

UploadKind sniff_upload(std::string_view b) {
  if (b.size() >= 132 && b.substr(128, 4) == "DICM") return UploadKind::dicom;
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return UploadKind::png;
  if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") return UploadKind::jpeg;
  return UploadKind::unknown;
}

std::string upload_kind_name(UploadKind kind) {
  switch (kind) {
    case UploadKind::dicom: return "dicom";
    case UploadKind::png: return "png";
    case UploadKind::jpeg: return "jpeg";
    case UploadKind::unknown: break;
  }
  return "unknown";
}

}  // namespace ptx::serve

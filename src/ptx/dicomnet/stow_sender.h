// Sends DICOM files to a DICOMweb server by STOW-RS: one POST of multipart/related;
// type="application/dicom", a part per file. 200 is success, 202 a partial success (reported as a
// failure naming the status), 4xx final, 5xx and unreachable servers worth retrying. Apart from the
// rest of dicomnet because cpp-httplib's defines must stay on the files that include it.
#pragma once
#include <string>
#include <vector>

#include "ptx/dicomnet/destination.h"

namespace ptx::dicomnet {

SendOutcome send_stow(const StowUrl& url, const std::vector<std::string>& files, int timeout_seconds = 30);

// The body and Content-Type of the request (for tests and for the sender).
struct MultipartBody {
  std::string content_type, body;
};
MultipartBody stow_body(const std::vector<std::string>& file_contents);

}  // namespace ptx::dicomnet

// What an upload to `ptx serve` is, judged by its bytes alone (never by a name or a header the
// client sends): DICOM Part 10 ("DICM" after the 128-byte preamble), PNG or JPEG.
#pragma once
#include <string>
#include <string_view>

namespace ptx::serve {

enum class UploadKind { dicom, png, jpeg, unknown };

UploadKind sniff_upload(std::string_view bytes);

// "dicom", "png", "jpeg", "unknown".
std::string upload_kind_name(UploadKind kind);

}  // namespace ptx::serve

// DicomMeta as JSON, for `ptx info --json` and the server's metadata panel. It holds no patient
// name, id or birth date: DicomMeta never reads them.
#pragma once
#include <nlohmann/json.hpp>

#include "ptx/io/dicom.h"

namespace ptx::io {

nlohmann::json to_json(const DicomMeta& meta);

}  // namespace ptx::io

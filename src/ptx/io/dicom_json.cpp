#include "ptx/io/dicom_json.h"

namespace ptx::io {

nlohmann::json to_json(const DicomMeta& m) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {
      {"sop_instance_uid", m.sop_instance_uid},
      {"study_instance_uid", m.study_instance_uid},
      {"series_instance_uid", m.series_instance_uid},
      {"modality", m.modality},
      {"body_part_examined", m.body_part_examined},
      {"view_position", m.view_position},
      {"patient_sex", m.patient_sex},
      {"patient_age_years", opt(m.patient_age_years)},
      {"pixel_spacing_mm", m.pixel_spacing_row_mm && m.pixel_spacing_col_mm
                               ? nlohmann::json::array({*m.pixel_spacing_row_mm, *m.pixel_spacing_col_mm})
                               : nlohmann::json(nullptr)},
      {"rows", m.rows},
      {"columns", m.columns},
      {"photometric_interpretation", m.photometric_interpretation},
      {"bits_stored", m.bits_stored},
      {"frames", m.frames},
      {"transfer_syntax_uid", m.transfer_syntax_uid},
  };
}

}  // namespace ptx::io

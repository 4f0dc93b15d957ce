#include "ptx/dicomnet/instance_record.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>

#include "ptx/core/error.h"

namespace ptx::dicomnet {

using nlohmann::json;

bool is_instance_id(const std::string& text) {
  static const std::regex pattern("[0-9]{8}T[0-9]{6}-[0-9a-f]{8}");
  return std::regex_match(text, pattern);
}

std::vector<std::string> InstanceRecord::dicom_outputs() const {
  std::vector<std::string> out;
  for (const char* name : {"seg.dcm", "sc.dcm"})
    if (std::find(files.begin(), files.end(), name) != files.end()) out.emplace_back(name);
  return out;
}

bool InstanceRecord::has_pending_delivery() const {
  return std::any_of(deliveries.begin(), deliveries.end(), [](const Delivery& d) { return d.status == "pending"; });
}

json to_json(const InstanceRecord& r) {
  json deliveries = json::array();
  for (const auto& d : r.deliveries)
    deliveries.push_back({{"target", d.target}, {"kind", d.kind}, {"status", d.status}, {"attempts", d.attempts},
                          {"message", d.message}});
  json j = {{"id", r.id},
            {"received", r.received},
            {"finished", r.finished},
            {"status", r.status},
            {"reason", r.reason},
            {"study_instance_uid", r.study_instance_uid},
            {"series_instance_uid", r.series_instance_uid},
            {"sop_instance_uid", r.sop_instance_uid},
            {"modality", r.modality},
            {"width", r.width},
            {"height", r.height},
            {"files", r.files},
            {"deliveries", deliveries}};
  if (r.probability) j["probability"] = *r.probability;
  if (r.area_pixels) j["area_pixels"] = *r.area_pixels;
  if (r.area_pixels) j["area_mm2"] = r.area_mm2 ? json(*r.area_mm2) : json(nullptr);
  return j;
}

InstanceRecord record_from_json(const json& j, const std::string& what) {
  try {
    InstanceRecord r;
    r.id = j.at("id").get<std::string>();
    r.received = j.value("received", "");
    r.finished = j.value("finished", "");
    r.status = j.at("status").get<std::string>();
    r.reason = j.value("reason", "");
    r.study_instance_uid = j.value("study_instance_uid", "");
    r.series_instance_uid = j.value("series_instance_uid", "");
    r.sop_instance_uid = j.value("sop_instance_uid", "");
    r.modality = j.value("modality", "");
    r.width = j.value("width", 0);
    r.height = j.value("height", 0);
    if (j.contains("probability")) r.probability = j["probability"].get<double>();
    if (j.contains("area_pixels")) r.area_pixels = j["area_pixels"].get<int>();
    if (j.contains("area_mm2") && !j["area_mm2"].is_null()) r.area_mm2 = j["area_mm2"].get<double>();
    r.files = j.value("files", std::vector<std::string>{});
    for (const auto& d : j.value("deliveries", json::array()))
      r.deliveries.push_back({d.at("target").get<std::string>(), d.at("kind").get<std::string>(),
                              d.at("status").get<std::string>(), d.value("attempts", 0), d.value("message", "")});
    return r;
  } catch (const json::exception& e) {
    throw core::Error(what + ": not an instance record (" + e.what() + ")");
  }
}

}  // namespace ptx::dicomnet

#include "orthanc_process.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace ptx::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string OrthancProcess::absent() {
  if (!std::filesystem::exists(kBinary) || !std::filesystem::exists(kDicomWebPlugin))
    return "Orthanc or its DICOMweb plugin is absent (scripts/setup.sh installs orthanc and orthanc-dicomweb)";
  return "";
}

OrthancProcess::OrthancProcess(const std::string& folder, const std::string& modality_aet, int modality_port)
    : http_port(free_port()), dicom_port(free_port()), log(folder + "/orthanc.log") {
  const json config = {{"Name", "ptx-test"},
                       {"StorageDirectory", folder + "/orthanc-storage"},
                       {"IndexDirectory", folder + "/orthanc-index"},
                       {"HttpPort", http_port},
                       {"DicomPort", dicom_port},
                       {"DicomAet", "ORTHANC"},
                       {"RemoteAccessAllowed", false},
                       {"AuthenticationEnabled", false},
                       {"DicomModalities", {{"ptx", {modality_aet, "127.0.0.1", modality_port}}}},
                       {"Plugins", {kDicomWebPlugin}},
                       {"DicomWeb", {{"Enable", true}, {"Root", "/dicom-web/"}}},
                       {"StableAge", 1}};
  const std::string path = folder + "/orthanc.json";
  std::ofstream(path) << config.dump(2);
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{kBinary, path}, log);
  up = wait_until([&] { return get("/system").status == 200; }, 60s);
}

HttpResponse OrthancProcess::get(const std::string& path) const {
  return http_request("GET", "127.0.0.1", http_port, path, "", "", 30);
}

HttpResponse OrthancProcess::post(const std::string& path, const std::string& body) const {
  return http_request("POST", "127.0.0.1", http_port, path, body, "application/json", 120);
}

std::vector<std::string> OrthancProcess::seg_instances() const {
  std::vector<std::string> ids;
  const auto r = post("/tools/find", json{{"Level", "Series"}, {"Query", {{"Modality", "SEG"}}}, {"Expand", true}}.dump());
  if (r.status != 200) return ids;
  for (const auto& series : json::parse(r.body))
    for (const auto& id : series["Instances"]) ids.push_back(id);
  return ids;
}

}  // namespace ptx::test

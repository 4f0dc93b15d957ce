// What the serve tests share: a ptx serve in this process on a free loopback port, a phantom
// radiograph written as a DICOM carrying a patient's name and id (which must never come back), and
// the results of a `ptx node` written into a spool folder.
#pragma once
#include <dcmtk/dcmdata/dctk.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

#include "http_client.h"
#include "ptx/core/atomic_file.h"
#include "ptx/data/synth.h"
#include "ptx/io/dicom_write.h"
#include "ptx/serve/server.h"

namespace ptx::test {

class RunningServer {
 public:
  RunningServer(predict::Ensemble segmenter, predict::Ensemble classifier, serve::ServeOptions options)
      : server_(std::move(segmenter), std::move(classifier), std::move(options)) {
    port = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
    // Ready once it answers (stop() before listening would be lost).
    for (int i = 0; i < 200 && http_request("GET", "127.0.0.1", port, "/api/v1/health", "", "", 2).status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  int port = 0;

 private:
  serve::Server server_;
  std::thread thread_;
};

struct PhantomDicom {
  std::string path, sop_instance_uid;
};

// A size x size phantom as an uncompressed DICOM with PixelSpacing 0.5\0.5 and the given
// PatientName / PatientID.
inline PhantomDicom write_phantom_dicom(const std::string& path, int size, bool positive, uint64_t seed,
                                        const std::string& patient_name, const std::string& patient_id) {
  auto phantom = data::make_phantom(size, positive, seed);
  phantom.meta.pixel_spacing_row_mm = phantom.meta.pixel_spacing_col_mm = 0.5;
  io::write_dicom(path, phantom.image, phantom.meta);
  DcmFileFormat file;
  if (file.loadFile(path.c_str()).bad()) throw std::runtime_error("cannot reload " + path);
  file.loadAllDataIntoMemory();  // it is saved over the file it was read from
  file.getDataset()->putAndInsertString(DCM_PatientName, patient_name.c_str());
  file.getDataset()->putAndInsertString(DCM_PatientID, patient_id.c_str());
  if (file.saveFile(path.c_str(), EXS_LittleEndianExplicit).bad()) throw std::runtime_error("cannot save " + path);
  return {path, phantom.meta.sop_instance_uid};
}

// A node's record as the contract of src/ptx/serve/worklist.h has it (probability and area left
// for the caller).
inline nlohmann::json node_record(const std::string& id, const std::string& finished, const std::string& status,
                                  const nlohmann::json& files) {
  return {{"id", id}, {"received", finished}, {"finished", finished}, {"status", status}, {"reason", ""},
          {"study_instance_uid", "1.2.3"}, {"series_instance_uid", "1.2.3.4"}, {"sop_instance_uid", "1.2.3.4.5"},
          {"modality", "CR"}, {"width", 40}, {"height", 30}, {"files", files}, {"deliveries", nlohmann::json::array()}};
}

// done/<id>/ with its files and, unless record is empty (an unfinished folder), result.json last.
inline void write_node_result(const std::filesystem::path& spool, const std::string& id, const std::string& record,
                              const std::map<std::string, std::string>& files) {
  for (const auto& [name, bytes] : files) core::write_file_atomic(spool / "done" / id / name, bytes);
  if (!record.empty()) core::write_file_atomic(spool / "done" / id / "result.json", record);
}

}  // namespace ptx::test

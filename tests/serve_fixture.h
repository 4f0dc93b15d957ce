// What the serve tests share: a ptx serve in this process on a free loopback port, and a phantom
// radiograph written as a DICOM carrying a patient's name and id (which must never come back).
#pragma once
#include <dcmtk/dcmdata/dctk.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "http_client.h"
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

}  // namespace ptx::test

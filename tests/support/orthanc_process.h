// A private Orthanc (Debian's `orthanc` with the `orthanc-dicomweb` plugin) for the tests and the
// node benchmark: its own folder, free loopback HTTP and DICOM ports, and one DICOM modality (the
// node under test), never the system's service.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "http_client.h"
#include "process_support.h"

namespace ptx::test {

class OrthancProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/Orthanc";
  static constexpr const char* kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
  // Why Orthanc cannot run here, or "" when it can.
  static std::string absent();

  // Starts Orthanc in folder with modality "ptx" = (modality_aet, 127.0.0.1, modality_port); up
  // tells whether it answered within a minute (its log is folder/orthanc.log).
  OrthancProcess(const std::string& folder, const std::string& modality_aet, int modality_port);

  HttpResponse get(const std::string& path) const;
  HttpResponse post(const std::string& path, const std::string& body) const;
  // Orthanc's ids of the SEG instances it holds.
  std::vector<std::string> seg_instances() const;

  int http_port, dicom_port;
  bool up = false;
  std::string log;

 private:
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace ptx::test

// `ptx node`: a DICOM node beside a PACS. The flow, one way:
//
//   sender --C-STORE--> StorageScp --> Spool incoming/ (on disk, then "success")
//                                  --> StudyBatcher (released after --study-timeout quiet seconds)
//   processor thread --> process_instance (predict_image) --> done/<id>/ record + outputs
//   delivery thread  --> C-STORE (DcmStorageSCU) / STOW-RS to each destination, retried with
//                        back-off, each outcome written into the record
//
// Restart after a crash: instances still in incoming/ are batched again, records with a delivery
// pending are sent again (the same files, so a PACS that already has them keeps one copy).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ptx/dicomnet/destination.h"
#include "ptx/dicomnet/instance_processor.h"
#include "ptx/dicomnet/storage_scp.h"

namespace ptx::dicomnet {

struct NodeOptions {
  ScpOptions scp;
  std::string spool;
  ProcessOptions process;
  std::vector<DicomPeer> destinations;
  std::vector<StowUrl> stow;
  double study_timeout_seconds = 5;
  RetryPolicy retry;
  int send_timeout_seconds = 30;
  std::uintmax_t min_free_bytes = std::uintmax_t(256) << 20;  // below, C-STOREs are refused (0xA700)
  bool json = false, quiet = false;                           // event log format
};

class Node {
 public:
  Node(Models models, NodeOptions options);
  ~Node();  // stops and waits
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens the DICOM port and picks up the spool's unfinished work; core::Error when it cannot.
  void start();
  // Serves until stop(): returns once the current image and the current send are done.
  void run();
  // Asks run() to return (thread-safe, from a signal-waiting thread).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptx::dicomnet

// The node's DICOM listener, on DCMTK's DcmSCP: answers C-ECHO, takes C-STORE of the radiograph
// SOP classes ptx reads (CR, DX for presentation and for processing, Secondary Capture) in the
// transfer syntaxes ptx decodes, and refuses everything else in the negotiation (a CT or a JPEG 2000
// proposal gets its presentation context rejected, so the sender knows before sending).
// Associations are served one at a time; the received data set is handed to a StoreHandler, whose
// DIMSE status is the answer: the handler writes the instance to disk before it returns success.
#pragma once
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/ofstd/oftypes.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

class DcmDataset;

namespace ptx::dicomnet {

struct ScpOptions {
  std::string aet = "PTX";                  // the node's AE title: the called AE title must be this
  int port = 11112;
  std::vector<std::string> accepted_aets;   // calling AE titles let in; empty: any
  int timeout_seconds = 30;                 // ACSE and DIMSE timeouts: a stalled peer is dropped
};

struct StoreContext {
  std::string calling_aet;
  std::string affected_sop_class_uid, affected_sop_instance_uid;  // as the C-STORE request names them
  E_TransferSyntax transfer_syntax = EXS_Unknown;                 // the data set's, as received
};

// Returns the DIMSE status of the C-STORE response (STATUS_Success once the instance is safe).
using StoreHandler = std::function<Uint16(DcmDataset& dataset, const StoreContext& context)>;
// Told of each association the node refuses (calling AE title, reason).
using RefusalHandler = std::function<void(const std::string& calling_aet, const std::string& reason)>;

// The SOP classes and transfer syntaxes the node negotiates.
const std::vector<std::string>& accepted_sop_classes();
const std::vector<std::string>& accepted_transfer_syntaxes();

class StorageScp {
 public:
  StorageScp(ScpOptions options, StoreHandler on_store, RefusalHandler on_refusal);
  ~StorageScp();
  StorageScp(const StorageScp&) = delete;
  StorageScp& operator=(const StorageScp&) = delete;

  // Opens the port (core::Error when it cannot: in use, or below 1024 without rights).
  void open();
  // Serves associations until stop(); returns within about a second of it.
  void serve();
  void stop() { stopping_ = true; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_{false};
};

}  // namespace ptx::dicomnet

#include "ptx/dicomnet/cstore_sender.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dstorscu.h>

#include <cstdio>

namespace ptx::dicomnet {

namespace {

// Keeps the DIMSE status of every C-STORE response.
class StatusCollectingScu : public DcmStorageSCU {
 public:
  std::vector<Uint16> statuses;
  std::size_t unsent = 0;

 protected:
  void notifySOPInstanceSent(const TransferEntry& entry) override {
    if (entry.RequestSent) statuses.push_back(entry.ResponseStatusCode);
    else ++unsent;
  }
};

std::string hex(Uint16 status) {
  char text[8];
  std::snprintf(text, sizeof text, "%04X", status);
  return text;
}

// 0xA7xx "out of resources" is the peer's way of saying "later"; other failures will not change.
bool is_retryable_status(Uint16 status) { return (status & 0xFF00) == 0xA700; }
bool is_warning_status(Uint16 status) { return status == 0x0107 || status == 0x0116 || (status & 0xF000) == 0xB000; }

}  // namespace

SendOutcome send_cstore(const DicomPeer& peer, const std::string& calling_aet, const std::vector<std::string>& files,
                        int timeout_seconds) {
  StatusCollectingScu scu;
  scu.setAETitle(calling_aet.c_str());
  scu.setPeerAETitle(peer.aet.c_str());
  scu.setPeerHostName(peer.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(peer.port));
  scu.setConnectionTimeout(timeout_seconds);
  scu.setACSETimeout(static_cast<Uint32>(timeout_seconds));
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(static_cast<Uint32>(timeout_seconds));
  scu.setHaltOnUnsuccessfulStoreMode(OFFalse);
  for (const auto& f : files) {
    const OFCondition c = scu.addDicomFile(f.c_str(), ERM_fileOnly, OFFalse);
    if (c.bad()) return {false, false, "cannot read " + f + " to send it (" + c.text() + ")"};
  }
  OFCondition c = scu.addPresentationContexts();
  if (c.good()) c = scu.initNetwork();
  if (c.bad()) return {false, false, std::string("cannot prepare the association (") + c.text() + ")"};
  c = scu.negotiateAssociation();
  if (c == DUL_ASSOCIATIONREJECTED) return {false, false, "the peer rejected the association (check its AE title configuration)"};
  if (c == NET_EC_NoAcceptablePresentationContexts) return {false, false, "the peer accepts none of the SOP classes sent (SEG/SC)"};
  if (c.bad()) return {false, true, std::string("cannot reach the peer (") + c.text() + ")"};
  c = scu.sendSOPInstances();
  scu.releaseAssociation();
  if (c.bad() && scu.statuses.size() < files.size()) return {false, true, std::string("the association broke (") + c.text() + ")"};
  if (scu.unsent) return {false, false, "the peer accepted no presentation context for " + std::to_string(scu.unsent) + " file(s)"};
  std::string warnings;
  for (const Uint16 status : scu.statuses) {
    if (status == 0) continue;
    if (is_warning_status(status)) {
      warnings += (warnings.empty() ? "" : ", ") + std::string("warning 0x") + hex(status);
      continue;
    }
    return {false, is_retryable_status(status), "the peer answered C-STORE with status 0x" + hex(status)};
  }
  return {true, false, warnings};
}

}  // namespace ptx::dicomnet

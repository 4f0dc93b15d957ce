// Sends DICOM files to a peer by C-STORE on DCMTK's DcmStorageSCU, which proposes each file's own
// SOP class (SEG, SC) and transfer syntax. A peer that is down or times out is worth retrying; an
// association the peer rejects, or a SOP class it does not take, is not.
#pragma once
#include <string>
#include <vector>

#include "ptx/dicomnet/destination.h"

namespace ptx::dicomnet {

SendOutcome send_cstore(const DicomPeer& peer, const std::string& calling_aet, const std::vector<std::string>& files,
                        int timeout_seconds = 30);

}  // namespace ptx::dicomnet

#include "ptx/dicomnet/storage_scp.h"

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scp.h>

#include <algorithm>

#include "ptx/core/error.h"
#include "ptx/io/dicom.h"

namespace ptx::dicomnet {

const std::vector<std::string>& accepted_sop_classes() {
  static const std::vector<std::string> classes = {
      UID_ComputedRadiographyImageStorage, UID_DigitalXRayImageStorageForPresentation,
      UID_DigitalXRayImageStorageForProcessing, UID_SecondaryCaptureImageStorage};
  return classes;
}

// What io::read_dicom decodes: uncompressed (both byte orders), deflated, JPEG baseline, extended
// and lossless, JPEG-LS and RLE. Not JPEG 2000: DCMTK here has no decoder for it. Compressed first:
// a sender that offers an image's own compressed syntax beside the uncompressed ones in one
// presentation context then sends it as stored, neither transcoded nor refused by a sender that
// cannot decompress.
const std::vector<std::string>& accepted_transfer_syntaxes() {
  static const std::vector<std::string> syntaxes = {
      UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
      UID_RLELosslessTransferSyntax,      UID_JPEGProcess1TransferSyntax,  UID_JPEGProcess2_4TransferSyntax,
      UID_JPEGLSLossyTransferSyntax,      UID_DeflatedExplicitVRLittleEndianTransferSyntax,
      UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
      UID_BigEndianExplicitTransferSyntax};
  return syntaxes;
}

class StorageScp::Impl : public DcmSCP {
 public:
  Impl(const ScpOptions& options, StoreHandler on_store, RefusalHandler on_refusal, const std::atomic<bool>& stopping)
      : options_(options), on_store_(std::move(on_store)), on_refusal_(std::move(on_refusal)), stopping_(stopping) {
    setAETitle(options.aet.c_str());
    setPort(static_cast<Uint16>(options.port));
    // Non-blocking accept with a one-second timeout, so that stop() is seen between associations.
    setConnectionBlockingMode(DUL_NOBLOCK);
    setConnectionTimeout(1);
    setACSETimeout(static_cast<Uint32>(options.timeout_seconds));
    setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    setDIMSETimeout(static_cast<Uint32>(options.timeout_seconds));
    setHostLookupEnabled(OFFalse);
    setEnableVerification();
    OFList<OFString> syntaxes;
    for (const auto& s : accepted_transfer_syntaxes()) syntaxes.push_back(s.c_str());
    for (const auto& c : accepted_sop_classes()) addPresentationContext(c.c_str(), syntaxes);
  }

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override {
    if (message->CommandField != DIMSE_C_STORE_RQ) return DcmSCP::handleIncomingCommand(message, info);
    T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
    DcmDataset* received = nullptr;
    OFCondition c = receiveSTORERequest(request, info.presentationContextID, received);
    std::unique_ptr<DcmDataset> dataset(received);
    if (c.bad()) return c;  // the association is broken: nothing was accepted
    StoreContext context;
    context.calling_aet = calling_aet_;
    context.affected_sop_class_uid = request.AffectedSOPClassUID;
    context.affected_sop_instance_uid = request.AffectedSOPInstanceUID;
    context.transfer_syntax = dataset ? dataset->getOriginalXfer() : EXS_Unknown;
    Uint16 status = STATUS_STORE_Error_CannotUnderstand;
    if (dataset) {
      try {
        status = on_store_(*dataset, context);
      } catch (const std::exception&) {
        status = STATUS_STORE_Refused_OutOfResources;  // nothing was kept: the sender must try again
      }
    }
    return sendSTOREResponse(info.presentationContextID, request, status);
  }

  OFBool checkCalledAETitleAccepted(const OFString& called) override { return called == options_.aet.c_str(); }

  void notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) override {
    calling_aet_ = params.DULparams.callingAPTitle;  // before any check, so every refusal can name it
    DcmSCP::notifyAssociationRequest(params, action);
  }

  OFBool checkCallingAETitleAccepted(const OFString& calling) override {
    const auto& allowed = options_.accepted_aets;
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), calling.c_str()) != allowed.end();
  }

  void refuseAssociation(const DcmRefuseReasonType reason) override {
    on_refusal_(calling_aet_, refusal_text(reason));
    DcmSCP::refuseAssociation(reason);
  }

  OFBool stopAfterConnectionTimeout() override { return stopping_; }
  OFBool stopAfterCurrentAssociation() override { return stopping_; }

 private:
  static std::string refusal_text(DcmRefuseReasonType reason) {
    switch (reason) {
      case DCMSCP_CALLING_AE_TITLE_NOT_RECOGNIZED: return "calling AE title not in --accept-aet";
      case DCMSCP_CALLED_AE_TITLE_NOT_RECOGNIZED: return "called AE title is not the node's --aet";
      case DCMSCP_NO_PRESENTATION_CONTEXTS: return "no SOP class or transfer syntax the node accepts";
      case DCMSCP_TOO_MANY_ASSOCIATIONS: return "too many associations";
      default: return "refused by the node";
    }
  }

  ScpOptions options_;
  StoreHandler on_store_;
  RefusalHandler on_refusal_;
  const std::atomic<bool>& stopping_;
  std::string calling_aet_;
};

StorageScp::StorageScp(ScpOptions options, StoreHandler on_store, RefusalHandler on_refusal)
    : impl_(std::make_unique<Impl>(options, std::move(on_store), std::move(on_refusal), stopping_)) {
  io::register_dicom_codecs();
}

StorageScp::~StorageScp() = default;

void StorageScp::open() {
  const OFCondition c = impl_->openListenPort();
  if (c.bad())
    throw core::Error("cannot listen for DICOM on port " + std::to_string(impl_->getConfig().getPort()) + " (" +
                      c.text() + "); is another node or PACS on it? choose another --port");
  // DcmSCP turns DCMTK's input data correction off for the whole process ("to see the real data"),
  // and then every later read keeps a UID's trailing NUL padding, which dcmseg refuses as a VR
  // violation when it copies the study from a source (one with an odd-length Study Instance UID,
  // as in the challenge's files). The node does not need received data bit for bit: DCMTK's
  // default goes back on.
  dcmEnableAutomaticInputDataCorrection.set(OFTrue);
}

void StorageScp::serve() {
  while (!stopping_) {
    const OFCondition c = impl_->acceptAssociations();
    if (stopping_) break;
    if (c.bad() && c != NET_EC_StopAfterConnectionTimeout && c != NET_EC_StopAfterAssociation)
      throw core::Error(std::string("the DICOM listener failed (") + c.text() + ")");
  }
}

}  // namespace ptx::dicomnet

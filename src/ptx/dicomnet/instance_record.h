// The record of one received instance: what came in, what ptx found, what it sent where. Kept as
// <spool>/done/<id>/result.json (the contract `ptx serve --spool` reads; see the README's "ptx
// beside a PACS"). Full UIDs live here, never in the log.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptx::dicomnet {

struct Delivery {
  static Delivery pending(std::string target, std::string kind) { return {std::move(target), std::move(kind), "pending", 0, ""}; }
  std::string target;  // "AET@HOST:PORT" or the STOW-RS URL
  std::string kind;    // "c-store" or "stow-rs"
  std::string status = "pending";  // "pending", "sent", "failed"
  int attempts = 0;
  std::string message;  // the last failure, or the peer's warning
};

struct InstanceRecord {
  std::string id, received, finished;
  std::string status;  // "positive", "negative", "skipped", "error"
  std::string reason;  // why, for skipped and error
  std::string study_instance_uid, series_instance_uid, sop_instance_uid, modality;
  std::optional<double> probability;
  std::optional<int> area_pixels;
  std::optional<double> area_mm2;
  int width = 0, height = 0;
  std::vector<std::string> files;  // in the record's folder: overlay.png, mask.png, mask.rle.txt, seg.dcm, sc.dcm
  std::vector<Delivery> deliveries;

  // The DICOM files to send back (seg.dcm, sc.dcm, in that order, when present).
  std::vector<std::string> dicom_outputs() const;
  bool has_pending_delivery() const;
};

// The node's ids: when the instance arrived (UTC) and 8 hex digits, "20261204T013001-3fa2b9c1".
// Chosen by the node, never by a sender, so always a safe file name.
bool is_instance_id(const std::string& text);

nlohmann::json to_json(const InstanceRecord& record);
// Throws core::Error naming `what` when the JSON is not a record.
InstanceRecord record_from_json(const nlohmann::json& j, const std::string& what);

}  // namespace ptx::dicomnet

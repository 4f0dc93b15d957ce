// The node's durable state, one folder:
//   incoming/<id>.dcm        accepted (the C-STORE answered success only after this was on disk)
//   done/<id>/result.json    the record (instance_record.h), written last, rewritten as deliveries go
//   done/<id>/source.dcm     the instance, moved here once its record exists
//   done/<id>/...            the outputs the record lists
// Ids are chosen by the node (never by a sender): "<UTC yyyymmddThhmmss>-<8 hex digits>", so they
// sort by arrival and are always safe file names. An instance is processed once: whatever has a
// record is finished, whatever is still in incoming/ is not.
#pragma once
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "ptx/dicomnet/instance_record.h"

namespace ptx::dicomnet {

class Spool {
 public:
  // Creates the folders, takes the spool's lock (core::Error when another node holds it: two nodes
  // on one spool would process instances twice) and removes the temporary files a killed run left.
  explicit Spool(std::filesystem::path root);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::string new_id() const;

  std::filesystem::path incoming(const std::string& id) const;
  std::filesystem::path done_dir(const std::string& id) const;
  std::filesystem::path record_path(const std::string& id) const;

  // Ids waiting in incoming/, oldest first.
  std::vector<std::string> unprocessed() const;
  // Ids of done/ whose records have a delivery still pending, oldest first.
  std::vector<std::string> undelivered() const;
  bool has_record(const std::string& id) const;

  // Writes the record atomically (and durably); thread-safe.
  void write_record(const InstanceRecord& record);
  InstanceRecord read_record(const std::string& id) const;
  // Moves incoming/<id>.dcm into done/<id>/source.dcm (after its record is written).
  void finish(const std::string& id);

  // Bytes free on the spool's file system.
  std::uintmax_t free_bytes() const;

 private:
  std::filesystem::path root_;
  int lock_fd_ = -1;
  mutable std::mutex write_mutex_;
};

}  // namespace ptx::dicomnet

#include "ptx/dicomnet/node.h"

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/dimse.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ptx/core/durable_file.h"
#include "ptx/core/error.h"
#include "ptx/dicomnet/cstore_sender.h"
#include "ptx/dicomnet/event_log.h"
#include "ptx/dicomnet/spool.h"
#include "ptx/dicomnet/stow_sender.h"
#include "ptx/dicomnet/study_batcher.h"
#include "ptx/io/dicom.h"

namespace ptx::dicomnet {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string get(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  return item.findAndGetOFString(tag, v).good() ? v.c_str() : "";
}

// "20261204T013001-..." -> "2026-12-04T01:30:01Z": an id carries its arrival time.
std::string received_time(const std::string& id) {
  return id.substr(0, 4) + "-" + id.substr(4, 2) + "-" + id.substr(6, 2) + "T" + id.substr(9, 2) + ":" + id.substr(11, 2) +
         ":" + id.substr(13, 2) + "Z";
}

bool is_accepted_sop_class(const std::string& uid) {
  const auto& classes = accepted_sop_classes();
  return std::find(classes.begin(), classes.end(), uid) != classes.end();
}

}  // namespace

struct Node::Impl {
  // A delivery of one record: the index of its entry in the record's deliveries.
  struct Job {
    std::string id;
    std::size_t delivery = 0;
    Clock::time_point due;
  };

  Models models;
  NodeOptions o;
  Spool spool;
  EventLog log;
  StudyBatcher batcher;
  StorageScp scp;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<Job> jobs;  // under mutex

  Impl(Models m, NodeOptions options)
      : models(std::move(m)),
        o(std::move(options)),
        spool(o.spool),
        log(o.json, o.quiet),
        batcher(std::chrono::milliseconds(static_cast<long long>(o.study_timeout_seconds * 1000))),
        scp(o.scp, [this](DcmDataset& ds, const StoreContext& c) { return on_store(ds, c); },
            [this](const std::string& aet, const std::string& reason) {
              log.emit("refused", {{"from", aet}, {"reason", reason}});
            }) {}

  Uint16 refuse(Uint16 status, const StoreContext& c, const std::string& reason) {
    log.emit("refused", {{"from", c.calling_aet}, {"sop_uid", c.affected_sop_instance_uid}, {"reason", reason}});
    return status;
  }

  // The C-STORE handler: checks the instance, puts it on disk, then answers success.
  Uint16 on_store(DcmDataset& ds, const StoreContext& c) {
    const std::string sop_class = get(ds, DCM_SOPClassUID), sop = get(ds, DCM_SOPInstanceUID);
    const std::string study = get(ds, DCM_StudyInstanceUID);
    if (!is_accepted_sop_class(sop_class))
      return refuse(STATUS_STORE_Refused_SOPClassNotSupported, c, "SOP class " + sop_class + " is not a radiograph class the node takes");
    if (sop_class != c.affected_sop_class_uid || sop != c.affected_sop_instance_uid)
      return refuse(STATUS_STORE_Error_DataSetDoesNotMatchSOPClass, c, "the data set's SOP class or instance differs from the request's");
    if (sop.empty() || study.empty())
      return refuse(STATUS_STORE_Error_CannotUnderstand, c, "no SOP Instance UID or Study Instance UID");
    if (spool.free_bytes() < o.min_free_bytes)
      return refuse(STATUS_STORE_Refused_OutOfResources, c, "the spool's disk is nearly full (below --min-free-mb)");
    const std::string id = spool.new_id();
    DcmFileFormat file(&ds);
    const E_TransferSyntax xfer = c.transfer_syntax == EXS_Unknown ? EXS_LittleEndianExplicit : c.transfer_syntax;
    try {
      core::write_durably(spool.incoming(id), [&](const fs::path& temp) {
        const OFCondition saved = file.saveFile(temp.c_str(), xfer);
        if (saved.bad()) throw core::Error(std::string("cannot write the instance (") + saved.text() + ")");
      });
    } catch (const core::Error& e) {
      return refuse(STATUS_STORE_Refused_OutOfResources, c, e.what());
    }
    batcher.add(study, id);
    log.emit("received", {{"id", id}, {"from", c.calling_aet}, {"study_uid", study}, {"sop_uid", sop},
                          {"modality", get(ds, DCM_Modality)}});
    return STATUS_Success;
  }

  void resume_unfinished_work() {
    std::size_t batched = 0, resent = 0;
    for (const auto& id : spool.unprocessed()) {
      if (spool.has_record(id)) {  // processed, killed before the move
        spool.finish(id);
        continue;
      }
      std::string study;
      try {
        study = io::read_dicom_meta(spool.incoming(id).string()).study_instance_uid;
      } catch (const core::Error&) {
        study = "unreadable:" + id;  // processed alone; its record will say why it failed
      }
      batcher.add(study, id);
      ++batched;
    }
    for (const auto& id : spool.undelivered()) {
      const InstanceRecord r = spool.read_record(id);
      for (std::size_t i = 0; i < r.deliveries.size(); ++i)
        if (r.deliveries[i].status == "pending") {
          jobs.push_back({id, i, Clock::now()});
          ++resent;
        }
    }
    log.emit("started", {{"aet", o.scp.aet}, {"port", o.scp.port}, {"unprocessed", batched}, {"undelivered", resent}});
  }

  void process(const std::string& id) {
    InstanceRecord r;
    r.id = id;
    r.received = received_time(id);
    process_instance(models, spool.incoming(id), spool.done_dir(id), o.process, r);
    if (!r.dicom_outputs().empty()) {
      for (const auto& d : o.destinations) r.deliveries.push_back(Delivery::pending(d.text(), "c-store"));
      for (const auto& s : o.stow) r.deliveries.push_back(Delivery::pending(s.text, "stow-rs"));
    }
    spool.write_record(r);
    spool.finish(id);
    nlohmann::json fields = {{"id", id}, {"status", r.status}};
    if (r.probability) fields["probability"] = *r.probability;
    if (r.area_pixels) fields["area_pixels"] = *r.area_pixels;
    if (!r.reason.empty()) fields["reason"] = r.reason;
    log.emit(r.status == "error" ? "failed" : r.status == "skipped" ? "skipped" : "predicted", fields);
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t i = 0; i < r.deliveries.size(); ++i) jobs.push_back({id, i, Clock::now()});
    wake.notify_all();
  }

  void process_released_studies() {
    while (!stopping) {
      for (const auto& batch : batcher.take_released()) {
        log.emit("released", {{"study_uid", batch.study_instance_uid}, {"instances", batch.ids.size()}});
        for (const auto& id : batch.ids) {
          if (stopping) return;  // the rest stay in incoming/ for the next start
          try {
            process(id);
          } catch (const std::exception& e) {
            // The spool cannot be written (disk full?): the instance stays in incoming/ and is
            // processed at the next start; the node carries on with the others.
            log.emit("failed", {{"id", id}, {"reason", e.what()}});
          }
        }
      }
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping.load(); });
    }
  }

  SendOutcome send(const Delivery& d, const std::vector<std::string>& files) {
    if (d.kind == "c-store") return send_cstore(parse_dicom_peer(d.target), o.scp.aet, files, o.send_timeout_seconds);
    return send_stow(parse_stow_url(d.target), files, o.send_timeout_seconds);
  }

  void deliver(Job job) {
    InstanceRecord r = spool.read_record(job.id);
    Delivery& d = r.deliveries.at(job.delivery);
    std::vector<std::string> files;
    for (const auto& name : r.dicom_outputs()) files.push_back((spool.done_dir(job.id) / name).string());
    SendOutcome outcome;
    try {
      outcome = send(d, files);
    } catch (const core::Error& e) {  // a target in an old record that no longer parses
      outcome = {false, false, e.what()};
    }
    ++d.attempts;
    d.message = outcome.message;
    nlohmann::json fields = {{"id", job.id}, {"to", d.target}, {"files", files.size()}, {"attempt", d.attempts}};
    if (outcome.sent) {
      d.status = "sent";
      log.emit("sent", fields);
    } else if (outcome.retry && d.attempts < o.retry.attempts) {
      const auto delay = o.retry.delay_after(d.attempts);
      fields["reason"] = outcome.message;
      fields["retry_in_s"] = std::chrono::duration<double>(delay).count();
      log.emit("retry", fields);
      std::lock_guard<std::mutex> lock(mutex);
      jobs.push_back({job.id, job.delivery, Clock::now() + delay});
    } else {
      d.status = "failed";
      fields["reason"] = outcome.message;
      log.emit("failed", fields);
    }
    spool.write_record(r);
  }

  void deliver_results() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      const auto next = std::min_element(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.due < b.due; });
      if (next == jobs.end() || next->due > Clock::now()) {
        const auto until = next == jobs.end() ? Clock::now() + std::chrono::seconds(1) : next->due;
        wake.wait_until(lock, until, [&] { return stopping.load(); });
        continue;
      }
      const Job job = *next;
      jobs.erase(next);
      lock.unlock();
      try {
        deliver(job);
      } catch (const std::exception& e) {  // an unreadable record: say so and carry on
        log.emit("failed", {{"id", job.id}, {"reason", e.what()}});
      }
      lock.lock();
    }
  }
};

Node::Node(Models models, NodeOptions options) : impl_(std::make_unique<Impl>(std::move(models), std::move(options))) {}

Node::~Node() { stop(); }

void Node::start() {
  impl_->scp.open();
  impl_->resume_unfinished_work();
}

void Node::run() {
  std::thread processor([this] { impl_->process_released_studies(); });
  std::thread delivery([this] { impl_->deliver_results(); });
  try {
    impl_->scp.serve();
  } catch (...) {
    stop();
    processor.join();
    delivery.join();
    throw;
  }
  processor.join();
  delivery.join();
  impl_->log.emit("stopped", {{"waiting", impl_->batcher.waiting()}});
}

void Node::stop() {
  impl_->stopping = true;
  impl_->scp.stop();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->wake.notify_all();
}

}  // namespace ptx::dicomnet

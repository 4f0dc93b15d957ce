// The DICOM node's pieces (src/ptx/dicomnet): the spool, study batching, event fields, destination
// parsing, the retry schedule and the STOW-RS body; then a node in this process on loopback, fed
// by DCMTK's storescu/echoscu (Debian's dcmtk) and by DcmSCU, without a PACS (test_node_orthanc.cpp
// has the real one).
#include <gtest/gtest.h>
#include <signal.h>

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/scu.h>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoint_fixture.h"
#include "process_support.h"
#include "ptx/core/atomic_file.h"
#include "ptx/dicomnet/destination.h"
#include "ptx/dicomnet/event_log.h"
#include "ptx/dicomnet/node.h"
#include "ptx/dicomnet/spool.h"
#include "ptx/dicomnet/stow_sender.h"
#include "ptx/dicomnet/study_batcher.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/dicom_write.h"
#include "serve_fixture.h"
#include "test_support.h"

using namespace ptx;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kStorescu = "/usr/bin/storescu";
constexpr const char* kEchoscu = "/usr/bin/echoscu";

#define PTX_REQUIRE_DCMTK_TOOLS()                                                                        \
  do {                                                                                                   \
    if (!fs::exists(kStorescu) || !fs::exists(kEchoscu))                                                 \
      GTEST_SKIP() << "DCMTK's storescu/echoscu are absent (scripts/setup.sh installs dcmtk): skipped"; \
  } while (0)

dicomnet::InstanceRecord sample_record(const std::string& id) {
  dicomnet::InstanceRecord r;
  r.id = id;
  r.received = "2026-12-04T01:30:01Z";
  r.status = "positive";
  r.study_instance_uid = "1.2.3";
  r.probability = 0.75;
  r.area_pixels = 12;
  r.files = {"mask.png", "seg.dcm"};
  r.deliveries = {dicomnet::Delivery::pending("ORTHANC@127.0.0.1:4242", "c-store")};
  return r;
}

}  // namespace

TEST(DicomnetSpool, IdsAreSafeSortableAndOnlyTheNodesNamesAreListed) {
  test::TempDir dir;
  dicomnet::Spool spool(dir.path());
  const std::string id = spool.new_id();
  EXPECT_TRUE(dicomnet::is_instance_id(id)) << id;
  EXPECT_FALSE(dicomnet::is_instance_id("../20261204T013001-3fa2b9c1"));
  EXPECT_FALSE(dicomnet::is_instance_id("20261204T013001-3FA2B9C1"));
  core::write_file_atomic(spool.incoming("20261204T013002-00000002"), "x");
  core::write_file_atomic(spool.incoming("20261204T013001-00000001"), "x");
  core::write_file_atomic(dir.path() / "incoming" / "sender-chosen.dcm", "x");
  EXPECT_EQ(spool.unprocessed(), (std::vector<std::string>{"20261204T013001-00000001", "20261204T013002-00000002"}));
}

TEST(DicomnetSpool, ASecondNodeOnTheSameSpoolIsRefusedAndAKilledRunsTemporariesAreRemoved) {
  test::TempDir dir;
  {
    dicomnet::Spool spool(dir.path());
    EXPECT_NE(test::error_of([&] { dicomnet::Spool second(dir.path()); }).find("another ptx node"), std::string::npos);
    core::write_file_atomic(dir.path() / "incoming" / "20261204T013001-00000001.dcm.tmp.123.0", "half");
  }
  dicomnet::Spool again(dir.path());  // the lock went with the first
  EXPECT_FALSE(fs::exists(dir.path() / "incoming" / "20261204T013001-00000001.dcm.tmp.123.0"));
}

TEST(DicomnetSpool, RecordsRoundTripAndFinishedInstancesMoveToTheDoneArea) {
  test::TempDir dir;
  dicomnet::Spool spool(dir.path());
  const std::string id = "20261204T013001-00000001";
  core::write_file_atomic(spool.incoming(id), "dicom");
  auto r = sample_record(id);
  spool.write_record(r);
  spool.finish(id);
  EXPECT_TRUE(spool.unprocessed().empty());
  EXPECT_EQ(core::read_file(spool.done_dir(id) / "source.dcm"), "dicom");
  const auto back = spool.read_record(id);
  EXPECT_EQ(back.status, "positive");
  EXPECT_DOUBLE_EQ(*back.probability, 0.75);
  EXPECT_EQ(*back.area_pixels, 12);
  EXPECT_FALSE(back.area_mm2);
  EXPECT_EQ(back.dicom_outputs(), std::vector<std::string>{"seg.dcm"});
  EXPECT_EQ(spool.undelivered(), std::vector<std::string>{id});
  r.deliveries[0].status = "sent";
  spool.write_record(r);
  EXPECT_TRUE(spool.undelivered().empty());
}

TEST(DicomnetStudyBatcher, AStudyIsReleasedOnlyAfterItsQuietTimeAndNewInstancesExtendIt) {
  dicomnet::StudyBatcher batcher(5s);
  const auto t0 = dicomnet::StudyBatcher::Clock::now();
  batcher.add("study-a", "1", t0);
  batcher.add("study-b", "2", t0 + 1s);
  batcher.add("study-a", "3", t0 + 4s);
  EXPECT_TRUE(batcher.take_released(t0 + 5500ms).empty());
  const auto b = batcher.take_released(t0 + 6s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].study_instance_uid, "study-b");
  const auto a = batcher.take_released(t0 + 9s);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ids, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(batcher.waiting(), 0u);
}

TEST(DicomnetEventLog, UidsAreShortenedToTheirLastDigits) {
  EXPECT_EQ(dicomnet::short_uid("1.2.276.0.7230010.3.1.4.8323329.4904.1517875185.355709"), "...355709");
  EXPECT_EQ(dicomnet::short_uid("1.2.3"), "1.2.3");
}

TEST(DicomnetDestination, PeersAndUrlsAreParsedAndBadOnesNamed) {
  const auto p = dicomnet::parse_dicom_peer("ORTHANC@127.0.0.1:4242");
  EXPECT_EQ(p.aet, "ORTHANC");
  EXPECT_EQ(p.host, "127.0.0.1");
  EXPECT_EQ(p.port, 4242);
  EXPECT_EQ(p.text(), "ORTHANC@127.0.0.1:4242");
  for (const char* bad : {"ORTHANC@host", "@host:1", "A@host:70000", "WAY-TOO-LONG-AE-TITLE@h:1", "A\\B@h:1"})
    EXPECT_NE(test::error_of([&] { dicomnet::parse_dicom_peer(bad); }).find("AET@HOST:PORT"), std::string::npos) << bad;
  const auto u = dicomnet::parse_stow_url("http://127.0.0.1:8042/dicom-web/studies");
  EXPECT_EQ(u.scheme_host_port, "http://127.0.0.1:8042");
  EXPECT_EQ(u.path, "/dicom-web/studies");
  EXPECT_FALSE(test::error_of([] { dicomnet::parse_stow_url("ftp://x/studies"); }).empty());
}

TEST(DicomnetDestination, RetriesBackOffExponentiallyUpToTheMaximum) {
  dicomnet::RetryPolicy p;
  p.first_delay = 2s;
  p.max_delay = 10s;
  EXPECT_EQ(p.delay_after(1), 2s);
  EXPECT_EQ(p.delay_after(2), 4s);
  EXPECT_EQ(p.delay_after(3), 8s);
  EXPECT_EQ(p.delay_after(4), 10s);
  EXPECT_EQ(p.delay_after(40), 10s);
}

TEST(DicomnetStow, TheBodyIsMultipartRelatedWithOnePartPerFileAndAnUnusedBoundary) {
  const auto m = dicomnet::stow_body({std::string("DICM\0\1", 6), "second"});
  const std::string marker = "boundary=";
  const std::string boundary = m.content_type.substr(m.content_type.find(marker) + marker.size());
  EXPECT_EQ(m.content_type.rfind("multipart/related; type=\"application/dicom\"", 0), 0u);
  EXPECT_EQ(m.body, "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n" + std::string("DICM\0\1", 6) + "\r\n--" +
                        boundary + "\r\nContent-Type: application/dicom\r\n\r\nsecond\r\n--" + boundary + "--\r\n");
}

namespace {

// A node in this process on a free loopback port.
class RunningNode {
 public:
  RunningNode(const test::TempDir& dir, dicomnet::NodeOptions options, float bias = 20.0f) : options_(std::move(options)) {
    const auto segmenter =
        predict::Ensemble::load({test::write_checkpoint(dir, "seg.ckpt", test::small_unet(), bias)}, {}, torch::kCPU);
    options_.scp.port = port = test::free_port();
    options_.process.image.triplet = segmenter.members().front().triplet;
    options_.quiet = true;
    node_ = std::make_unique<dicomnet::Node>(dicomnet::Models{segmenter, {}}, options_);
    node_->start();
    thread_ = std::thread([this] { node_->run(); });
  }
  ~RunningNode() {
    node_->stop();
    thread_.join();
  }
  // The record of the one finished instance, once there is one.
  std::optional<dicomnet::InstanceRecord> wait_for_record(std::chrono::milliseconds timeout, bool delivered = false) {
    std::optional<dicomnet::InstanceRecord> found;
    test::wait_until(
        [&] {
          for (const auto& e : fs::directory_iterator(fs::path(options_.spool) / "done")) {
            if (!fs::exists(e.path() / "result.json")) continue;
            auto r = dicomnet::record_from_json(nlohmann::json::parse(core::read_file(e.path() / "result.json")), "record");
            if (!delivered || !r.has_pending_delivery()) found = r;
          }
          return found.has_value();
        },
        timeout);
    return found;
  }
  std::string store(const std::string& file, const std::string& calling = "MODALITY") const {
    return std::string(kStorescu) + " -R -aet " + calling + " -aec PTX 127.0.0.1 " + std::to_string(port) + " " + file;
  }
  int port = 0;

 private:
  dicomnet::NodeOptions options_;
  std::unique_ptr<dicomnet::Node> node_;
  std::thread thread_;
};

dicomnet::NodeOptions node_options(const test::TempDir& dir) {
  dicomnet::NodeOptions o;
  o.spool = dir / "spool";
  o.study_timeout_seconds = 0.2;
  o.retry.first_delay = 50ms;
  o.retry.attempts = 2;
  o.send_timeout_seconds = 5;
  return o;
}

// Stores a positive phantom; the record's one delivery once it is no longer pending.
std::optional<dicomnet::Delivery> final_delivery(RunningNode& node, const test::TempDir& dir) {
  if (test::run_shell(node.store(test::write_phantom_dicom(dir / "in.dcm", 64, true, 3, "A", "B").path)).exit_code != 0) return {};
  const auto r = node.wait_for_record(60s, /*delivered=*/true);
  if (!r || r->deliveries.size() != 1) return {};
  return r->deliveries[0];
}

}  // namespace

TEST(DicomnetNode, AnswersEchoAndTurnsAStoredRadiographIntoASegReferencingIt) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  RunningNode node(dir, node_options(dir));
  EXPECT_EQ(test::run_shell(std::string(kEchoscu) + " -aet MODALITY -aec PTX 127.0.0.1 " + std::to_string(node.port)).exit_code, 0);
  const auto dicom = test::write_phantom_dicom(dir / "in.dcm", 128, true, 3, "Doe^Jane", "PAT-1");
  const auto sent = test::run_shell(node.store(dicom.path));
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  const auto r = node.wait_for_record(60s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "positive");
  EXPECT_EQ(r->sop_instance_uid, dicom.sop_instance_uid);
  EXPECT_EQ(r->width, 128);
  EXPECT_GT(*r->area_pixels, 0);
  const fs::path done = dir.path() / "spool" / "done" / r->id;
  const auto seg = io::read_dicom_seg((done / "seg.dcm").string());
  EXPECT_EQ(seg.referenced_sop_instance_uid, dicom.sop_instance_uid);
  EXPECT_EQ(cv::countNonZero(seg.mask != cv::imread((done / "mask.png").string(), cv::IMREAD_GRAYSCALE)), 0);
  EXPECT_TRUE(fs::exists(done / "source.dcm"));
  EXPECT_TRUE(r->deliveries.empty());  // no destination given
}

TEST(DicomnetNode, ACallingAeTitleNotListedIsRefusedAndTheNodeKeepsServing) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  auto o = node_options(dir);
  o.scp.accepted_aets = {"MODALITY"};
  RunningNode node(dir, o);
  const auto dicom = test::write_phantom_dicom(dir / "in.dcm", 64, true, 3, "Doe^Jane", "PAT-1");
  const auto refused = test::run_shell(node.store(dicom.path, "STRANGER"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Rejected"), std::string::npos) << refused.output;
  EXPECT_EQ(test::run_shell(node.store(dicom.path, "MODALITY")).exit_code, 0);
  EXPECT_TRUE(node.wait_for_record(60s));
}

TEST(DicomnetNode, ACtIsRefusedInTheNegotiationAndACtDataSetOnACrContextIsRefusedByStatus) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  RunningNode node(dir, node_options(dir));
  auto phantom = data::make_phantom(64, true, 5);
  phantom.meta.modality = "CT";
  phantom.meta.sop_class_uid = UID_CTImageStorage;
  io::write_dicom(dir / "ct.dcm", phantom.image, phantom.meta);
  const auto refused = test::run_shell(node.store(dir / "ct.dcm"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Association Rejected"), std::string::npos) << refused.output;  // CT was all it proposed

  // A CT data set sent on a CR presentation context: the C-STORE answer is 0122, SOP class not supported.
  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((dir / "ct.dcm").c_str()).good());
  DcmSCU scu;
  scu.setAETitle("MODALITY");
  scu.setPeerAETitle("PTX");
  scu.setPeerHostName("127.0.0.1");
  scu.setPeerPort(static_cast<Uint16>(node.port));
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
  scu.addPresentationContext(UID_ComputedRadiographyImageStorage, syntaxes);
  ASSERT_TRUE(scu.initNetwork().good());
  ASSERT_TRUE(scu.negotiateAssociation().good());
  Uint16 status = 0;
  const auto context = scu.findPresentationContextID(UID_ComputedRadiographyImageStorage, UID_LittleEndianExplicitTransferSyntax);
  ct.getDataset()->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  scu.sendSTORERequest(context, "", ct.getDataset(), status);
  scu.releaseAssociation();
  EXPECT_EQ(status, STATUS_STORE_Refused_SOPClassNotSupported) << std::hex << status;
  EXPECT_TRUE(fs::is_empty(dir.path() / "spool" / "incoming"));
  EXPECT_EQ(test::run_shell(std::string(kEchoscu) + " -aec PTX 127.0.0.1 " + std::to_string(node.port)).exit_code, 0);
}

TEST(DicomnetNode, ARadiographOfAnotherBodyPartIsSkippedWithTheReason) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  RunningNode node(dir, node_options(dir));
  auto phantom = data::make_phantom(64, true, 5);
  phantom.meta.body_part_examined = "HAND";
  io::write_dicom(dir / "hand.dcm", phantom.image, phantom.meta);
  ASSERT_EQ(test::run_shell(node.store(dir / "hand.dcm")).exit_code, 0);
  const auto r = node.wait_for_record(60s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "skipped");
  EXPECT_NE(r->reason.find("not a chest radiograph"), std::string::npos) << r->reason;
  EXPECT_TRUE(r->dicom_outputs().empty());
}

TEST(DicomnetNode, ADestinationThatIsDownIsRetriedBoundedAndTheOutcomeRecorded) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  auto o = node_options(dir);
  o.destinations = {dicomnet::parse_dicom_peer("NOBODY@127.0.0.1:" + std::to_string(test::free_port()))};
  RunningNode node(dir, o);
  const auto d = final_delivery(node, dir);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, "failed");
  EXPECT_EQ(d->attempts, 2);
  EXPECT_NE(d->message.find("cannot reach"), std::string::npos) << d->message;
}

TEST(DicomnetNode, AnAssociationThePeerRejectsIsNotRetried) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir, peer_dir;
  auto peer_options = node_options(peer_dir);
  peer_options.scp.accepted_aets = {"SOMEONE-ELSE"};
  RunningNode peer(peer_dir, peer_options);
  auto o = node_options(dir);
  o.retry.attempts = 5;
  o.destinations = {dicomnet::parse_dicom_peer("PTX@127.0.0.1:" + std::to_string(peer.port))};
  RunningNode node(dir, o);
  const auto d = final_delivery(node, dir);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, "failed");
  EXPECT_EQ(d->attempts, 1);
  EXPECT_NE(d->message.find("rejected"), std::string::npos) << d->message;
}

TEST(DicomnetNode, InstancesLeftInTheSpoolByAKilledRunAreProcessedAtTheNextStart) {
  test::TempDir dir;
  // An odd-length Study Instance UID (NUL-padded in the file): once DcmSCP had switched DCMTK's
  // input correction off for the process, its SEG could not be written.
  auto phantom = data::make_phantom(64, true, 3);
  phantom.meta.study_instance_uid = "1.2.826.0.1.3";
  io::write_dicom(dir / "in.dcm", phantom.image, phantom.meta);
  {
    dicomnet::Spool spool(dir.path() / "spool");
    fs::copy_file(dir / "in.dcm", spool.incoming("20261204T013001-00000001"));
  }
  RunningNode node(dir, node_options(dir));
  const auto r = node.wait_for_record(60s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "20261204T013001-00000001");
  EXPECT_EQ(r->sop_instance_uid, phantom.meta.sop_instance_uid);
  EXPECT_EQ(r->status, "positive") << r->reason;
  EXPECT_EQ(r->dicom_outputs(), std::vector<std::string>{"seg.dcm"});
  EXPECT_EQ(r->received, "2026-12-04T01:30:01Z");
}

TEST(DicomnetNode, ScOfPositivesAndReportsOfNegativesAreMadeWhenAskedFor) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir positive_dir, negative_dir;
  auto o = node_options(positive_dir);
  o.process.sc = true;
  {
    RunningNode node(positive_dir, o, 20.0f);
    ASSERT_EQ(test::run_shell(node.store(test::write_phantom_dicom(positive_dir / "in.dcm", 64, true, 3, "A", "B").path)).exit_code, 0);
    const auto r = node.wait_for_record(60s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->dicom_outputs(), (std::vector<std::string>{"seg.dcm", "sc.dcm"}));
  }
  auto n = node_options(negative_dir);
  n.process.report_negatives = true;
  RunningNode node(negative_dir, n, -20.0f);
  ASSERT_EQ(test::run_shell(node.store(test::write_phantom_dicom(negative_dir / "in.dcm", 64, false, 3, "A", "B").path)).exit_code, 0);
  const auto r = node.wait_for_record(60s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "negative");
  EXPECT_EQ(r->dicom_outputs(), std::vector<std::string>{"sc.dcm"});
  const cv::Mat report = io::read_dicom_sc_pixels((negative_dir.path() / "spool" / "done" / r->id / "sc.dcm").string());
  EXPECT_EQ(report.size(), cv::Size(64, 64));
}

TEST(DicomnetNode, TheCommandStopsCleanlyOnSigtermAndWritesItsEvents) {
  PTX_REQUIRE_DCMTK_TOOLS();
  test::TempDir dir;
  const std::string ckpt = test::write_checkpoint(dir, "seg.ckpt", test::small_unet(), 20.0f);
  const int port = test::free_port();
  test::ChildProcess node({PTX_EXECUTABLE, "node", "--json", "--checkpoint", ckpt, "--port", std::to_string(port), "--spool",
                           dir / "spool", "--study-timeout", "0.2"},
                          dir / "node.log");
  const auto log = [&] { return fs::exists(dir / "node.log") ? core::read_file(dir / "node.log") : std::string(); };
  ASSERT_TRUE(test::wait_until([&] { return log().find("\"event\":\"started\"") != std::string::npos; }, 60s)) << log();
  ASSERT_EQ(test::run_shell(std::string(kStorescu) + " -aec PTX 127.0.0.1 " + std::to_string(port) + " " +
                  test::write_phantom_dicom(dir / "in.dcm", 64, true, 3, "Doe^Jane", "PAT-1").path)
                .exit_code,
            0);
  ASSERT_TRUE(test::wait_until([&] { return log().find("\"event\":\"predicted\"") != std::string::npos; }, 60s)) << log();
  EXPECT_EQ(node.stop(SIGTERM), 0);
  EXPECT_NE(log().find("\"event\":\"stopped\""), std::string::npos) << log();
  EXPECT_EQ(log().find("Doe"), std::string::npos);
  EXPECT_EQ(log().find("PAT-1"), std::string::npos);
}

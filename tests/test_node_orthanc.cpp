// ptx node against a real PACS: Debian's Orthanc (with its DICOMweb plugin), started by the test on
// free loopback ports with a private configuration and storage, never the system's service. The
// challenge's own DICOMs go in by DCMTK's storescu (a modality) and by Orthanc's push (a PACS); the
// SEG comes back by C-STORE and by STOW-RS and is read back from Orthanc's REST API. Skipped with a
// message where Orthanc, storescu or ../shared/data is absent.
#include <gtest/gtest.h>
#include <signal.h>

#include <dcmtk/dcmdata/dctk.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <thread>

#include "checkpoint_fixture.h"
#include "http_client.h"
#include "orthanc_process.h"
#include "ptx/core/atomic_file.h"
#include "ptx/dicomnet/instance_record.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/dicom_write.h"
#include "ptx/data/synth.h"
#include "test_support.h"

using namespace ptx;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kStorescu = "/usr/bin/storescu";

// `ptx node` as a child process (it must be killable with SIGKILL).
class NodeProcess {
 public:
  NodeProcess(const test::TempDir& dir, int port, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {PTX_EXECUTABLE, "node", "--json", "--checkpoint", dir / "seg.ckpt", "--aet", "PTX",
                                     "--port", std::to_string(port), "--spool", dir / "spool", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    log = dir / ("node-" + std::to_string(++starts_) + ".log");
    process = std::make_unique<test::ChildProcess>(argv, log);
    ready = test::wait_until([&] { return events("started") > 0; }, 60s);
  }
  std::size_t events(const std::string& kind) const {
    if (!fs::exists(log)) return 0;
    std::size_t n = 0;
    std::istringstream lines(core::read_file(log));
    for (std::string line; std::getline(lines, line);)
      if (line.find("\"event\":\"" + kind + "\"") != std::string::npos) ++n;
    return n;
  }
  std::string log;
  bool ready = false;
  std::unique_ptr<test::ChildProcess> process;

 private:
  static inline int starts_ = 0;
};

std::vector<std::string> siim_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(test::shared_data() + "/siim-sample"))
    if (e.path().extension() == ".dcm") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// storescu proposes only uncompressed transfer syntaxes unless told (-xy) that a file is JPEG.
std::string jpeg_option(const std::string& file) {
  try {
    return io::read_dicom_meta(file).transfer_syntax_uid == UID_JPEGProcess1TransferSyntax ? " -xy" : "";
  } catch (const core::Error&) {
    return "";
  }
}

int storescu(const std::string& file, int port, const std::string& calling = "MODALITY", std::string* output = nullptr) {
  const auto r = test::run_shell(std::string(kStorescu) + jpeg_option(file) + " -R -aet " + calling + " -aec PTX 127.0.0.1 " +
                                 std::to_string(port) + " '" + file + "'");
  if (output) *output = r.output;
  return r.exit_code;
}

// The node's records, by the SOP Instance UID of their source.
std::map<std::string, dicomnet::InstanceRecord> records(const test::TempDir& dir) {
  std::map<std::string, dicomnet::InstanceRecord> out;
  if (!fs::exists(dir.path() / "spool" / "done")) return out;
  for (const auto& e : fs::directory_iterator(dir.path() / "spool" / "done"))
    if (fs::exists(e.path() / "result.json")) {
      auto r = dicomnet::record_from_json(json::parse(core::read_file(e.path() / "result.json")), "record");
      out[r.sop_instance_uid] = r;
    }
  return out;
}

// Every SEG in Orthanc, read back through its REST API, by the source it references.
std::map<std::string, std::vector<io::DicomSeg>> segs_in(const test::OrthancProcess& orthanc, const test::TempDir& dir) {
  std::map<std::string, std::vector<io::DicomSeg>> out;
  for (const auto& id : orthanc.seg_instances()) {
    const auto file = orthanc.get("/instances/" + id + "/file");
    if (file.status != 200) continue;
    const std::string path = dir / ("seg-" + id + ".dcm");
    core::write_file_atomic(path, file.body);
    auto seg = io::read_dicom_seg(path);
    out[seg.referenced_sop_instance_uid].push_back(std::move(seg));
  }
  return out;
}

class NodeOrthanc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::OrthancProcess::absent().empty()) GTEST_SKIP() << test::OrthancProcess::absent() << ": PACS test skipped";
    if (!fs::exists(kStorescu)) GTEST_SKIP() << "DCMTK's storescu is absent (scripts/setup.sh installs dcmtk): PACS test skipped";
    PTX_REQUIRE_SHARED_DATA();
    test::write_checkpoint(dir, "seg.ckpt", test::small_unet(), 20.0f);  // finds the whole image: every image positive
    node_port = test::free_port();
    orthanc = std::make_unique<test::OrthancProcess>(dir.path().string(), "PTX", node_port);
    ASSERT_TRUE(orthanc->up) << core::read_file(orthanc->log);
    files = siim_files();
    ASSERT_GE(files.size(), 4u);
  }
  std::vector<std::string> to_orthanc() const { return {"--destination", "ORTHANC@127.0.0.1:" + std::to_string(orthanc->dicom_port)}; }
  // Waits until Orthanc holds a SEG for each source; then checks each against the node's record.
  void expect_segs_for(const std::vector<std::string>& sources) {
    std::map<std::string, std::vector<io::DicomSeg>> segs;
    const bool all = test::wait_until(
        [&] {
          segs = segs_in(*orthanc, dir);
          return std::all_of(sources.begin(), sources.end(), [&](const std::string& s) { return segs.count(s) > 0; });
        },
        90s);
    ASSERT_TRUE(all) << "Orthanc has " << segs.size() << " SEG sources of " << sources.size();
    const auto recs = records(dir);
    for (const auto& source : sources) {
      ASSERT_EQ(segs[source].size(), 1u) << "one SEG per source";
      const auto& seg = segs[source].front();
      const auto& r = recs.at(source);
      EXPECT_EQ(seg.study_instance_uid, r.study_instance_uid);
      EXPECT_EQ(seg.referenced_sop_instance_uid, source);
      const cv::Mat mask = cv::imread((dir.path() / "spool" / "done" / r.id / "mask.png").string(), cv::IMREAD_GRAYSCALE);
      ASSERT_EQ(seg.mask.size(), mask.size());
      EXPECT_EQ(cv::countNonZero(seg.mask != mask), 0) << "the SEG in Orthanc decodes to ptx's mask";
    }
  }
  std::string sop_of(const std::string& file) const { return io::read_dicom_meta(file).sop_instance_uid; }

  test::TempDir dir;
  int node_port = 0;
  std::unique_ptr<test::OrthancProcess> orthanc;
  std::vector<std::string> files;
};

}  // namespace

TEST_F(NodeOrthanc, AModalityAndAPacsBothSendAndTheSegComesBackByCStore) {
  NodeProcess node(dir, node_port, [&] { auto a = to_orthanc(); a.insert(a.end(), {"--study-timeout", "0.5"}); return a; }());
  ASSERT_TRUE(node.ready) << core::read_file(node.log);
  ASSERT_EQ(storescu(files[0], node_port), 0);  // a modality
  const auto uploaded = orthanc->post("/instances", core::read_file(files[1]));  // a PACS: Orthanc pushes to ptx
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  const auto pushed = orthanc->post("/modalities/ptx/store", json::parse(uploaded.body)["ID"].get<std::string>());
  ASSERT_EQ(pushed.status, 200) << pushed.body;
  expect_segs_for({sop_of(files[0]), sop_of(files[1])});
  EXPECT_GE(node.events("sent"), 2u);
  const std::string log = core::read_file(node.log);
  EXPECT_EQ(log.find(sop_of(files[0])), std::string::npos) << "full UIDs never reach the log";
}

TEST_F(NodeOrthanc, TheSegComesBackByStowRs) {
  const std::string stow = "http://127.0.0.1:" + std::to_string(orthanc->http_port) + "/dicom-web/studies";
  NodeProcess node(dir, node_port, {"--stow", stow, "--study-timeout", "0.5"});
  ASSERT_TRUE(node.ready) << core::read_file(node.log);
  ASSERT_EQ(storescu(files[2], node_port), 0);
  expect_segs_for({sop_of(files[2])});
  EXPECT_NE(core::read_file(node.log).find("\"to\":\"" + stow + "\""), std::string::npos);
}

TEST_F(NodeOrthanc, AnInstanceAcknowledgedBeforeAKillIsDeliveredExactlyOnceAfterTheRestart) {
  const std::string source = sop_of(files[3]);
  {
    // A long study timeout holds the instance in the spool: acknowledged, not yet processed.
    NodeProcess node(dir, node_port, [&] { auto a = to_orthanc(); a.insert(a.end(), {"--study-timeout", "600"}); return a; }());
    ASSERT_TRUE(node.ready) << core::read_file(node.log);
    ASSERT_EQ(storescu(files[3], node_port), 0);
    ASSERT_EQ(node.events("received"), 1u);
    EXPECT_EQ(node.process->stop(SIGKILL), 128 + SIGKILL);
  }
  EXPECT_TRUE(segs_in(*orthanc, dir).empty());
  NodeProcess restarted(dir, node_port, [&] { auto a = to_orthanc(); a.insert(a.end(), {"--study-timeout", "0.5"}); return a; }());
  ASSERT_TRUE(restarted.ready) << core::read_file(restarted.log);
  expect_segs_for({source});
  std::this_thread::sleep_for(3s);  // anything sent twice would have arrived by now
  EXPECT_EQ(segs_in(*orthanc, dir)[source].size(), 1u);
  EXPECT_EQ(records(dir).size(), 1u);
  EXPECT_EQ(restarted.events("sent"), 1u);
}

TEST_F(NodeOrthanc, ACtATruncatedFileAndAnUnknownAeAreRefusedOrRecordedAndTheNodeKeepsServing) {
  NodeProcess node(dir, node_port, [&] {
    auto a = to_orthanc();
    a.insert(a.end(), {"--study-timeout", "0.5", "--accept-aet", "MODALITY", "--accept-aet", "ORTHANC"});
    return a;
  }());
  ASSERT_TRUE(node.ready) << core::read_file(node.log);
  std::string out;
  // A CT: its presentation context, the only one proposed, is rejected, and so the association.
  auto ct = data::make_phantom(64, true, 9);
  ct.meta.modality = "CT";
  ct.meta.sop_class_uid = UID_CTImageStorage;
  io::write_dicom(dir / "ct.dcm", ct.image, ct.meta);
  EXPECT_NE(storescu(dir / "ct.dcm", node_port, "MODALITY", &out), 0);
  EXPECT_NE(out.find("Association Rejected"), std::string::npos) << out;
  // A truncated file: storescu cannot even read it; a whole file whose pixel data is short is
  // accepted (it is valid DICOM) and recorded as an error with the reason.
  const std::string whole = core::read_file(files[0]);
  core::write_file_atomic(dir / "truncated.dcm", whole.substr(0, whole.size() / 2));
  EXPECT_NE(storescu(dir / "truncated.dcm", node_port, "MODALITY", &out), 0) << out;
  auto short_pixels = data::make_phantom(256, true, 9);
  io::write_dicom(dir / "short.dcm", short_pixels.image(cv::Rect(0, 0, 256, 16)).clone(), short_pixels.meta);
  {
    DcmFileFormat f;
    ASSERT_TRUE(f.loadFile((dir / "short.dcm").c_str()).good());
    f.loadAllDataIntoMemory();
    f.getDataset()->putAndInsertUint16(DCM_Rows, 256);  // claims 256 rows, holds 16
    ASSERT_TRUE(f.saveFile((dir / "short.dcm").c_str(), EXS_LittleEndianExplicit).good());
  }
  EXPECT_EQ(storescu(dir / "short.dcm", node_port, "MODALITY", &out), 0) << out;
  // An AE title not in --accept-aet: the association is rejected.
  EXPECT_NE(storescu(files[1], node_port, "STRANGER", &out), 0);
  EXPECT_NE(out.find("Rejected"), std::string::npos) << out;
  // And the node still serves.
  ASSERT_EQ(storescu(files[0], node_port), 0);
  expect_segs_for({sop_of(files[0])});
  ASSERT_TRUE(test::wait_until([&] { return records(dir).count(short_pixels.meta.sop_instance_uid) > 0; }, 30s));
  const auto r = records(dir).at(short_pixels.meta.sop_instance_uid);
  EXPECT_EQ(r.status, "error");
  EXPECT_FALSE(r.reason.empty());
  const std::string log = core::read_file(node.log);
  EXPECT_NE(log.find("\"event\":\"refused\""), std::string::npos) << log;
  EXPECT_NE(log.find("STRANGER"), std::string::npos) << log;
  EXPECT_NE(log.find("no SOP class or transfer syntax the node accepts"), std::string::npos) << log;
}

// ptx serve (src/ptx/serve) over real HTTP on loopback: good and bad uploads, the result files,
// the model description, concurrent clients, the worklist with a node's spool; and its work
// queue, upload sniffing and node records alone.
#include <gtest/gtest.h>


#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <thread>

#include "checkpoint_fixture.h"
#include "http_client.h"
#include "ptx/core/atomic_file.h"
#include "ptx/data/synth.h"
#include "ptx/io/dicom.h"
#include "ptx/io/dicom_seg.h"
#include "ptx/io/dicom_write.h"
#include "ptx/io/image.h"
#include "ptx/io/rle.h"
#include "ptx/dicomnet/instance_record.h"
#include "ptx/serve/server.h"
#include "ptx/serve/upload.h"
#include "ptx/serve/work_queue.h"
#include "ptx/serve/worklist.h"
#include "serve_fixture.h"
#include "test_support.h"

using namespace ptx;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A server on a free loopback port in this process, with a segmenter sure of a pneumothorax
// everywhere (bias +20) or nowhere (-20).
struct ServeFixture : ::testing::Test {
  test::TempDir dir;
  predict::Ensemble segmenter;
  std::unique_ptr<test::RunningServer> server;

  void start(float bias, serve::ServeOptions options = {}) {
    const std::string ckpt = test::write_checkpoint(dir, "seg.ckpt", test::small_unet(), bias);
    segmenter = predict::Ensemble::load({ckpt}, {}, torch::kCPU);
    options.port = 0;
    options.image.triplet = segmenter.members().front().triplet;
    options.checkpoints = {ckpt};
    server = std::make_unique<test::RunningServer>(segmenter, predict::Ensemble(), options);
  }
  test::HttpResponse get(const std::string& path) { return test::http_request("GET", "127.0.0.1", server->port, path); }
  test::HttpResponse post(const std::string& body) {
    return test::http_request("POST", "127.0.0.1", server->port, "/api/v1/predict", body);
  }
  std::vector<std::string> listed_ids(const std::string& query = "") {
    const json list = json::parse(get("/api/v1/results" + query).body);
    std::vector<std::string> ids;
    for (const auto& e : list["results"]) ids.push_back(e["id"].get<std::string>());
    return ids;
  }
};

// A 40 x 30 grey picture, each seed its own shade.
std::string small_png(int seed) { return io::encode_png(cv::Mat(30, 40, CV_8U, cv::Scalar(20 * seed))); }

// The node's ids in the spool of write_spool.
const std::string kPositive = "20241101T100000-0000000a", kNegative = "20241102T090000-0000000b",
                  kSkipped = "20241103T080000-0000000c", kMalformed = "20241104T000000-0000000d",
                  kUnfinished = "20241105T000000-0000000e";

// Three finished results, one malformed record, one folder without its record, one folder whose
// name is not a node id, and an instance still incoming.
fs::path write_spool(const test::TempDir& dir) {
  const fs::path spool = dir.path() / "spool";
  json positive = test::node_record(kPositive, "2024-11-01T10:00:09Z", "positive",
                              {"overlay.png", "mask.png", "mask.rle.txt", "seg.dcm", "source.dcm", "../../../etc/passwd"});
  positive.update({{"probability", 0.93}, {"area_pixels", 1234}, {"area_mm2", 12.5}});
  test::write_node_result(spool, kPositive, positive.dump(),
                    {{"overlay.png", small_png(1)}, {"mask.png", small_png(2)}, {"mask.rle.txt", "10 5 30 2\n"},
                     {"seg.dcm", "a SEG's bytes"}, {"sc.dcm", "an SC the record does not list"},
                     {"source.dcm", "the received instance, with the patient's name"}});
  json negative = test::node_record(kNegative, "2024-11-02T09:00:04Z", "negative", {"overlay.png", "mask.png", "mask.rle.txt"});
  negative.update({{"probability", 0.02}, {"area_pixels", 0}, {"area_mm2", nullptr}});
  test::write_node_result(spool, kNegative, negative.dump(),
                    {{"overlay.png", small_png(3)}, {"mask.png", small_png(4)}, {"mask.rle.txt", "-1\n"}});
  json skipped = test::node_record(kSkipped, "2024-11-03T08:00:01Z", "skipped", json::array());
  skipped["reason"] = "not a chest radiograph (modality CT)";
  test::write_node_result(spool, kSkipped, skipped.dump(), {});
  test::write_node_result(spool, kMalformed, "{\"id\": \"" + kMalformed + "\", \"status\": ", {{"overlay.png", small_png(5)}});
  test::write_node_result(spool, kUnfinished, "", {{"overlay.png", small_png(6)}});
  const std::string bad_id = "20241106T000000-DEADBEEF";  // upper-case hex
  test::write_node_result(spool, bad_id, test::node_record(bad_id, "2024-11-06T00:00:01Z", "negative", {"overlay.png"}).dump(),
                    {{"overlay.png", small_png(7)}});
  core::write_file_atomic(spool / "incoming" / "20241107T000000-0000000f.dcm", "not processed yet");
  return spool;
}

}  // namespace

TEST_F(ServeFixture, ADicomUploadGivesItsProbabilityAreaRleOverlayMaskAndSeg) {
  start(20.0f);
  const auto phantom = test::write_phantom_dicom(dir / "chest.dcm", 96, /*positive=*/true, 5, "Doe^Jane", "PAT-12345");
  const auto r = post(core::read_file(phantom.path));
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "dicom");
  EXPECT_TRUE(j["positive"].get<bool>());
  EXPECT_GT(j["probability"].get<double>(), 0.99);
  EXPECT_EQ(j["width"], 96);
  EXPECT_EQ(j["area_pixels"], 96 * 96);  // sure everywhere
  // Pixel spacing 0.5 x 0.5 mm (set by write_phantom_dicom).
  EXPECT_NEAR(j["area_mm2"].get<double>(), 96 * 96 * 0.25, 1e-6);
  EXPECT_EQ(j["metadata"]["modality"], "CR");
  // The patient's name and id never leave the server.
  EXPECT_EQ(r.body.find("Doe"), std::string::npos);
  EXPECT_EQ(r.body.find("PAT-12345"), std::string::npos);

  // curl --data-binary sends application/x-www-form-urlencoded: the body is still the file.
  const auto as_form = test::http_request("POST", "127.0.0.1", server->port, "/api/v1/predict",
                                          core::read_file(phantom.path), "application/x-www-form-urlencoded");
  EXPECT_EQ(as_form.status, 200) << as_form.body;

  const cv::Mat from_rle = io::rle_decode_mask(j["rle"].get<std::string>(), 96, 96);
  EXPECT_EQ(cv::countNonZero(from_rle), 96 * 96);

  const auto mask = get(j["links"]["mask"]);
  ASSERT_EQ(mask.status, 200);
  EXPECT_EQ(mask.headers.at("content-type"), "image/png");
  EXPECT_EQ(cv::countNonZero(io::decode_gray_image(mask.body, "mask")), 96 * 96);
  const auto overlay = get(j["links"]["overlay"]);
  ASSERT_EQ(overlay.status, 200);
  const cv::Mat picture = cv::imdecode(cv::Mat(1, int(overlay.body.size()), CV_8U, const_cast<char*>(overlay.body.data())), cv::IMREAD_COLOR);
  EXPECT_EQ(picture.size(), cv::Size(96, 96));
  const auto rle = get(j["links"]["rle"]);
  EXPECT_EQ(rle.body, j["rle"].get<std::string>() + "\n");

  ASSERT_TRUE(j["links"].contains("seg"));
  const auto seg = get(j["links"]["seg"]);
  ASSERT_EQ(seg.status, 200);
  EXPECT_EQ(seg.headers.at("content-type"), "application/dicom");
  core::write_file_atomic(dir / "seg.dcm", seg.body);
  const auto decoded = io::read_dicom_seg(dir / "seg.dcm");
  EXPECT_EQ(cv::countNonZero(decoded.mask), 96 * 96);
  EXPECT_EQ(decoded.referenced_sop_instance_uid, phantom.sop_instance_uid);
  EXPECT_EQ(decoded.frame_of_reference_uid, io::read_dicom_meta(phantom.path).frame_of_reference_uid);  // shared
  EXPECT_EQ(decoded.property_type_code, "36118008");
}

TEST_F(ServeFixture, APngUploadHasNoSegAndAnEmptyPredictionSaysSo) {
  start(-20.0f);
  const cv::Mat image = data::make_phantom(80, false, 3).image;
  const auto r = post(io::encode_png(image));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "png");
  EXPECT_FALSE(j["positive"].get<bool>());
  EXPECT_EQ(j["area_pixels"], 0);
  EXPECT_EQ(j["rle"], "-1");
  EXPECT_TRUE(j["area_mm2"].is_null());  // a PNG has no pixel spacing
  EXPECT_FALSE(j["links"].contains("seg"));
  EXPECT_EQ(get(j["links"]["mask"]).status, 200);
  // A result without a SEG has none to download.
  const std::string seg_link = j["links"]["mask"].get<std::string>();
  EXPECT_EQ(get(seg_link.substr(0, seg_link.rfind('/')) + "/seg.dcm").status, 404);
}

TEST_F(ServeFixture, BadUploadsGetTheirStatusAndAMessage) {
  serve::ServeOptions o;
  o.max_upload_bytes = 64 * 1024;
  start(20.0f, o);
  const auto empty = post("");
  EXPECT_EQ(empty.status, 400);
  EXPECT_NE(json::parse(empty.body)["error"].get<std::string>().find("empty"), std::string::npos);

  const auto text = post("this is not an image at all, just words");
  EXPECT_EQ(text.status, 415);
  EXPECT_NE(json::parse(text.body)["error"].get<std::string>().find("DICOM"), std::string::npos);

  std::string broken_dicom(128, '\0');
  broken_dicom += "DICM";
  broken_dicom += std::string(300, '\x7f');
  const auto dicom = post(broken_dicom);
  EXPECT_EQ(dicom.status, 422) << dicom.body;
  // The server's own temporary file name is not shown to the client.
  EXPECT_EQ(dicom.body.find("ptx-serve-"), std::string::npos) << dicom.body;

  const auto png = post(std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x'));
  EXPECT_EQ(png.status, 422);

  const auto big = post(std::string("\x89PNG\r\n\x1a\n", 8) + std::string(200 * 1024, 'x'));
  EXPECT_EQ(big.status, 413) << big.error;

  // The server is still there.
  EXPECT_EQ(get("/api/v1/health").status, 200);
}

TEST_F(ServeFixture, AHugeImageInASmallFileIsRefused) {
  start(20.0f);
  // 9000 x 9000 of black: 81 Mpx in a few hundred kB of PNG.
  const auto huge = post(io::encode_png(cv::Mat::zeros(9000, 9000, CV_8U)));
  EXPECT_EQ(huge.status, 422);
  EXPECT_NE(huge.body.find("at most"), std::string::npos) << huge.body;
}

TEST_F(ServeFixture, PathsOutsideTheApiAreNotFound) {
  start(20.0f);
  EXPECT_EQ(get("/api/v1/results/0123456789abcdef/mask.png").status, 404);
  const auto traversal = get("/api/v1/results/../../../../etc/passwd");
  EXPECT_EQ(traversal.status, 404);
  EXPECT_EQ(traversal.body.find("root:"), std::string::npos);
  EXPECT_EQ(get("/index.html").status, 404);
  const auto page = get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("id=\"file\""), std::string::npos);
}

TEST_F(ServeFixture, ASecondServerCannotTakeTheSamePort) {
  start(20.0f);
  serve::ServeOptions o;
  o.port = server->port;
  serve::Server second(segmenter, predict::Ensemble(), o);
  EXPECT_NE(test::error_of([&] { second.bind(); }).find("in use"), std::string::npos);
}

TEST_F(ServeFixture, TheModelDescriptionNamesTheCheckpointByItsSha256) {
  start(20.0f);
  const auto r = get("/api/v1/model");
  ASSERT_EQ(r.status, 200);
  const auto j = json::parse(r.body);
  ASSERT_EQ(j["segmenters"].size(), 1u);
  EXPECT_EQ(j["segmenters"][0]["spec"]["encoder"], "resnet18");
  EXPECT_EQ(j["triplet"], "0.5,0,0.5");
  // Against coreutils' sha256sum of the same file.
  FILE* p = popen(("sha256sum " + (dir / "seg.ckpt")).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char digest[65] = {};
  ASSERT_EQ(std::fread(digest, 1, 64, p), 64u);
  pclose(p);
  EXPECT_EQ(j["segmenters"][0]["sha256"], std::string(digest));
  const auto health = json::parse(get("/api/v1/health").body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["queue"]["workers"], 1);
}

TEST_F(ServeFixture, ConcurrentClientsAreAllServedWhenTheLineHasRoom) {
  serve::ServeOptions o;
  o.max_waiting = 8;
  start(20.0f, o);
  const std::string body = io::encode_png(data::make_phantom(64, true, 9).image);
  std::vector<std::future<test::HttpResponse>> answers;
  for (int i = 0; i < 6; ++i) answers.push_back(std::async(std::launch::async, [&] { return post(body); }));
  std::set<std::string> ids;
  for (auto& a : answers) {
    const auto r = a.get();
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    ids.insert(json::parse(r.body)["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 6u);  // each its own result
}

TEST_F(ServeFixture, AFullLineAnswers503AndTheServerCarriesOn) {
  serve::ServeOptions o;
  o.max_waiting = 0;  // one upload at a time, none waiting
  start(20.0f, o);
  // A large image: each upload keeps the worker busy long enough (decoding, the overlay's PNG) for
  // the others, sent at once, to find the line full.
  cv::Mat large;
  cv::resize(data::make_phantom(128, true, 9).image, large, cv::Size(3000, 3000));
  const std::string body = io::encode_png(large);
  std::vector<std::future<test::HttpResponse>> answers;
  for (int i = 0; i < 8; ++i) answers.push_back(std::async(std::launch::async, [&] { return post(body); }));
  int ok = 0, busy = 0;
  for (auto& a : answers) {
    const auto r = a.get();
    ASSERT_TRUE(r.status == 200 || r.status == 503) << r.status << " " << r.body << r.error;
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.headers.at("retry-after"), "1");
    }
    ok += r.status == 200;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(post(body).status, 200);  // free again
}

TEST_F(ServeFixture, TheWorklistListsTheUploadsAndTheNodesFinishedResultsNewestFirst) {
  serve::ServeOptions o;
  o.spool = write_spool(dir).string();
  start(20.0f, o);
  const auto phantom = test::write_phantom_dicom(dir / "chest.dcm", 64, true, 5, "Doe^Jane", "PAT-12345");
  const auto upload = post(core::read_file(phantom.path));
  ASSERT_EQ(upload.status, 200) << upload.body;
  const std::string upload_id = json::parse(upload.body)["id"];

  const auto r = get("/api/v1/results");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto list = json::parse(r.body)["results"];
  // The upload (made now) first, then the node's by the time they were finished; not the
  // malformed, unfinished or misnamed ones.
  ASSERT_EQ(listed_ids(), (std::vector<std::string>{upload_id, kSkipped, kNegative, kPositive})) << r.body;
  EXPECT_EQ(list[0]["source"], "upload");
  EXPECT_EQ(list[0]["status"], "positive");
  EXPECT_EQ(list[0]["area_pixels"], 64 * 64);
  EXPECT_NEAR(list[0]["area_mm2"].get<double>(), 64 * 64 * 0.25, 1e-6);
  EXPECT_EQ(list[0]["links"]["seg"], "/api/v1/results/" + upload_id + "/seg.dcm");
  EXPECT_EQ(list[0]["time"].get<std::string>().size(), std::string("2026-12-04T01:30:07Z").size());

  EXPECT_EQ(list[1]["source"], "node");
  EXPECT_EQ(list[1]["status"], "skipped");
  EXPECT_EQ(list[1]["reason"], "not a chest radiograph (modality CT)");
  EXPECT_TRUE(list[1]["probability"].is_null());
  EXPECT_TRUE(list[1]["area_pixels"].is_null());
  EXPECT_TRUE(list[1]["links"].empty());
  EXPECT_EQ(list[2]["status"], "negative");
  EXPECT_TRUE(list[2]["area_mm2"].is_null());
  EXPECT_EQ(list[3]["time"], "2024-11-01T10:00:09Z");
  EXPECT_DOUBLE_EQ(list[3]["probability"].get<double>(), 0.93);
  EXPECT_EQ(list[3]["area_pixels"], 1234);
  EXPECT_DOUBLE_EQ(list[3]["area_mm2"].get<double>(), 12.5);
  EXPECT_EQ(list[3]["width"], 40);
  // The files the record lists and the worklist offers; not source.dcm, nor a path.
  const std::string base = "/api/v1/results/" + kPositive + "/";
  EXPECT_EQ(list[3]["links"], (json{{"overlay", base + "overlay.png"}, {"mask", base + "mask.png"},
                                    {"rle", base + "mask.rle.txt"}, {"seg", base + "seg.dcm"}}));
  // Neither the patient's name and id nor the instance's UIDs.
  for (const char* hidden : {"Doe", "PAT-12345", "1.2.3"}) EXPECT_EQ(r.body.find(hidden), std::string::npos) << hidden;

  EXPECT_EQ(listed_ids("?limit=2"), (std::vector<std::string>{upload_id, kSkipped}));
  EXPECT_EQ(get("/api/v1/results?limit=0").status, 400);
  EXPECT_EQ(get("/api/v1/results?limit=ten").status, 400);
}

TEST_F(ServeFixture, TheNodesListedFilesDownloadAndNothingElseDoes) {
  serve::ServeOptions o;
  o.spool = write_spool(dir).string();
  start(20.0f, o);
  const fs::path positive = fs::path(o.spool) / "done" / kPositive;
  const std::string base = "/api/v1/results/" + kPositive + "/";
  const auto overlay = get(base + "overlay.png");
  ASSERT_EQ(overlay.status, 200);
  EXPECT_EQ(overlay.headers.at("content-type"), "image/png");
  EXPECT_EQ(overlay.body, core::read_file(positive / "overlay.png"));
  EXPECT_EQ(get(base + "mask.png").body, core::read_file(positive / "mask.png"));
  const auto rle = get(base + "mask.rle.txt");
  EXPECT_EQ(rle.headers.at("content-type"), "text/plain");
  EXPECT_EQ(rle.body, "10 5 30 2\n");
  const auto seg = get(base + "seg.dcm");
  EXPECT_EQ(seg.headers.at("content-type"), "application/dicom");
  EXPECT_EQ(seg.body, "a SEG's bytes");
  EXPECT_NE(seg.headers.at("content-disposition").find("attachment"), std::string::npos);

  for (const std::string& path :
       {base + "sc.dcm",  // on disk, but the record does not list it
        base + "source.dcm", base + "result.json", base + "passwd",
        "/api/v1/results/" + kMalformed + "/overlay.png", "/api/v1/results/" + kUnfinished + "/overlay.png",
        std::string("/api/v1/results/20241106T000000-DEADBEEF/overlay.png"),
        std::string("/api/v1/results/20241231T235959-00000000/overlay.png"),  // unknown
        base + "..%2Fresult.json", base + "../../../../../etc/passwd",
        std::string("/api/v1/results/..%2F..%2F..%2F..%2Fetc%2Fpasswd/overlay.png"),
        std::string("/api/v1/results/") + "..%2Fdone%2F" + kPositive + "/overlay.png"}) {
    const auto r = get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("patient"), std::string::npos) << path;
  }
}

TEST_F(ServeFixture, ANodeResultJoinsTheWorklistOnceItsRecordIsWrittenAndFollowsItsChanges) {
  serve::ServeOptions o;
  o.spool = write_spool(dir).string();
  start(20.0f, o);
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{kSkipped, kNegative, kPositive}));
  json record = test::node_record(kUnfinished, "2024-11-05T00:00:03Z", "error", {"overlay.png"});
  record["reason"] = "the pixel data cannot be decoded";
  test::write_node_result(o.spool, kUnfinished, record.dump(), {});
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{kUnfinished, kSkipped, kNegative, kPositive}));
  EXPECT_EQ(get("/api/v1/results/" + kUnfinished + "/overlay.png").status, 200);
  // A record written again replaces the one read before; one that goes away takes its entry along.
  record["status"] = "negative";
  test::write_node_result(o.spool, kUnfinished, record.dump(), {});
  EXPECT_EQ(json::parse(get("/api/v1/results?limit=1").body)["results"][0]["status"], "negative");
  fs::remove_all(fs::path(o.spool) / "done" / kNegative);
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{kUnfinished, kSkipped, kPositive}));
  EXPECT_EQ(get("/api/v1/results/" + kNegative + "/overlay.png").status, 404);
}

TEST_F(ServeFixture, WithoutASpoolTheWorklistHoldsTheUploads) {
  start(-20.0f);
  EXPECT_EQ(listed_ids(), std::vector<std::string>{});
  const auto first = json::parse(post(io::encode_png(data::make_phantom(64, false, 1).image)).body);
  const auto second = json::parse(post(io::encode_png(data::make_phantom(64, false, 2).image)).body);
  EXPECT_EQ(listed_ids(), (std::vector<std::string>{second["id"].get<std::string>(), first["id"].get<std::string>()}));
  const auto entry = json::parse(get("/api/v1/results").body)["results"][0];
  EXPECT_EQ(entry["status"], "negative");
  EXPECT_EQ(entry["links"], second["links"]);
  EXPECT_EQ(entry["time"], second["time"]);
  EXPECT_EQ(get("/api/v1/results/" + kPositive + "/overlay.png").status, 404);
}

TEST(ServeWorklist, NodeRecordsAreCheckedBeforeTheyAreListed) {
  const std::string id = "20261204T013001-3fa2b9c1";
  const json good = test::node_record(id, "2026-12-04T01:30:07Z", "negative", {"overlay.png", "source.dcm", "/etc/passwd"});
  const auto entry = serve::parse_node_record(id, good.dump());
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->files, std::vector<std::string>{"overlay.png"});
  EXPECT_FALSE(entry->probability.has_value());
  const auto broken = [&](const char* key, const json& value) {
    json j = good;
    j[key] = value;
    return !serve::parse_node_record(id, j.dump()).has_value();
  };
  EXPECT_TRUE(broken("id", "20261204T013001-00000000"));  // another result's record
  EXPECT_TRUE(broken("status", "maybe"));
  EXPECT_TRUE(broken("finished", "yesterday"));
  EXPECT_TRUE(broken("probability", "high"));
  EXPECT_TRUE(broken("files", "overlay.png"));
  EXPECT_TRUE(broken("width", nullptr));
  EXPECT_FALSE(serve::parse_node_record(id, "[1, 2]").has_value());
  EXPECT_FALSE(serve::parse_node_record(id, "").has_value());
  EXPECT_TRUE(dicomnet::is_instance_id(id));
  for (const char* bad : {"20261204T013001-3FA2B9C1", "20261204T013001-3fa2b9c", "../20261204T013001-3fa2b9c1", ""})
    EXPECT_FALSE(dicomnet::is_instance_id(bad)) << bad;
}

TEST(ServeWorkQueue, RefusesWhenEveryWorkerIsBusyAndTheLineIsFull) {
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  serve::WorkQueue q(1, 1);
  auto first = q.try_submit([&] {
    started.set_value();
    released.wait();
    return 1;
  });
  ASSERT_TRUE(first.has_value());
  started.get_future().wait();
  auto second = q.try_submit([] { return 2; });  // waits in line
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(q.try_submit([] { return 3; }).has_value());  // the line is full
  EXPECT_EQ(q.load().running, 1u);
  EXPECT_EQ(q.load().waiting, 1u);
  release.set_value();
  EXPECT_EQ(first->get(), 1);
  EXPECT_EQ(second->get(), 2);
  // Once a job's answer is there its worker is free: the next job is taken at once, every time.
  serve::WorkQueue strict(1, 0);
  for (int i = 0; i < 200; ++i) {
    auto r = strict.try_submit([i] { return i; });
    ASSERT_TRUE(r.has_value()) << "submission " << i;
    EXPECT_EQ(r->get(), i);
  }
}

TEST(ServeUpload, KindsComeFromTheBytes) {
  std::string dicom(128, '\0');
  dicom += "DICM....";
  EXPECT_EQ(serve::sniff_upload(dicom), serve::UploadKind::dicom);
  EXPECT_EQ(serve::sniff_upload(io::encode_png(cv::Mat::zeros(4, 4, CV_8U))), serve::UploadKind::png);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", cv::Mat::zeros(8, 8, CV_8U), jpeg);
  EXPECT_EQ(serve::sniff_upload(std::string(jpeg.begin(), jpeg.end())), serve::UploadKind::jpeg);
  EXPECT_EQ(serve::sniff_upload("DICM"), serve::UploadKind::unknown);
  EXPECT_EQ(serve::sniff_upload(""), serve::UploadKind::unknown);
}

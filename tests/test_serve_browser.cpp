// The page of ptx serve in a real browser: headless Chromium driven through ChromeDriver's
// WebDriver protocol (Debian's chromium and chromium-driver) uploads a synthetic DICOM, waits for
// the overlay and checks the probability is shown, then opens a node's result from the worklist;
// the screenshot goes to build/test-artifacts/serve-page.png. Skipped with a message where
// Chromium is absent.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "checkpoint_fixture.h"
#include "http_client.h"
#include "ptx/core/atomic_file.h"
#include "ptx/core/base64.h"
#include "ptx/io/image.h"
#include "serve_fixture.h"
#include "process_support.h"
#include "test_support.h"

using namespace ptx;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kChromeDriver = "/usr/bin/chromedriver";
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";  // W3C WebDriver's element id key

using test::free_port;

// ChromeDriver as a child process, killed at the end.
class ChromeDriver {
 public:
  ChromeDriver(const std::string& log) : port(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port_arg = "--port=" + std::to_string(port), log_arg = "--log-path=" + log;
      ::execl(kChromeDriver, kChromeDriver, port_arg.c_str(), log_arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ChromeDriver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const {
    for (int i = 0; i < 200; ++i) {
      const auto r = test::http_request("GET", "127.0.0.1", port, "/status", "", "", 2);
      if (r.status == 200 && json::parse(r.body)["value"].value("ready", false)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // One WebDriver command; the answer's "value".
  json command(const std::string& method, const std::string& path, const json& body = json::object()) const {
    const auto r = test::http_request(method, "127.0.0.1", port, path, method == "POST" ? body.dump() : "",
                                      "application/json", 120);
    if (r.status == 0) throw std::runtime_error("WebDriver " + path + ": " + r.error);
    const auto j = json::parse(r.body);
    if (r.status != 200) throw std::runtime_error("WebDriver " + path + ": " + j["value"].dump());
    return j["value"];
  }
  int port;

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST(ServeBrowser, UploadingADicomShowsTheOverlayAndTheProbabilityAndTheWorklistOpensANodeResult) {
  if (!fs::exists(kChromium) || !fs::exists(kChromeDriver))
    GTEST_SKIP() << "Chromium or ChromeDriver is absent (scripts/setup.sh installs chromium and chromium-driver): "
                    "browser test skipped";
  test::TempDir dir;
  const auto segmenter =
      predict::Ensemble::load({test::write_checkpoint(dir, "seg.ckpt", test::small_unet(), 20.0f)}, {}, torch::kCPU);
  serve::ServeOptions options;
  options.port = 0;
  options.image.triplet = segmenter.members().front().triplet;
  // One result of a node, its overlay 40 pixels wide (the upload's is 256).
  const std::string node_id = "20241101T100000-0000000a";
  options.spool = dir / "spool";
  nlohmann::json record = test::node_record(node_id, "2024-11-01T10:00:09Z", "positive", {"overlay.png"});
  record.update({{"probability", 0.875}, {"area_pixels", 321}, {"area_mm2", nullptr}});
  test::write_node_result(options.spool, node_id, record.dump(),
                          {{"overlay.png", io::encode_png(cv::Mat(30, 40, CV_8U, cv::Scalar(90)))}});
  test::RunningServer server(segmenter, predict::Ensemble(), options);
  const auto dicom = test::write_phantom_dicom(dir / "upload.dcm", 256, true, 11, "Doe^John", "PAT-777");

  ChromeDriver driver(dir / "chromedriver.log");
  ASSERT_TRUE(driver.ready()) << "ChromeDriver did not start: " << core::read_file(dir / "chromedriver.log");
  const json chrome_options{
      {"binary", kChromium},
      {"args",
       {"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1100",
        "--user-data-dir=" + (dir / "profile")}}};
  const json session = driver.command(
      "POST", "/session", {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"}, {"goog:chromeOptions", chrome_options}}}}}});
  const std::string s = "/session/" + session["sessionId"].get<std::string>();
  try {
    driver.command("POST", s + "/url", {{"url", "http://127.0.0.1:" + std::to_string(server.port) + "/"}});
    const json input = driver.command("POST", s + "/element", {{"using", "css selector"}, {"value", "#file"}});
    driver.command("POST", s + "/element/" + input[kElementKey].get<std::string>() + "/value", {{"text", dicom.path}});
    // Wait for the result panel: shown once the overlay image has loaded.
    json state;
    for (int i = 0; i < 600; ++i) {
      state = driver.command("POST", s + "/execute/sync",
                             {{"script",
                               "const $ = (id) => document.getElementById(id);"
                               "return {shown: !$('panel').classList.contains('hidden'), probability: $('probability').textContent,"
                               " verdict: $('verdict').textContent, overlay: $('overlay').naturalWidth,"
                               " status: $('status').textContent, page: document.body.innerText};"},
                              {"args", json::array()}});
      if (state["shown"].get<bool>() || state["status"].get<std::string>().rfind("could not", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(state["shown"].get<bool>()) << state.dump();
    EXPECT_EQ(state["overlay"], 256);
    EXPECT_EQ(state["verdict"], "Pneumothorax found");
    const std::string probability = state["probability"];
    EXPECT_NE(probability.find('%'), std::string::npos);
    EXPECT_GT(std::stod(probability), 99.0);
    EXPECT_EQ(state["page"].get<std::string>().find("PAT-777"), std::string::npos);

    const std::string png = core::base64_decode(driver.command("GET", s + "/screenshot").get<std::string>());
    const cv::Mat shot = cv::imdecode(cv::Mat(1, int(png.size()), CV_8U, const_cast<char*>(png.data())), cv::IMREAD_COLOR);
    ASSERT_FALSE(shot.empty());
    EXPECT_GE(shot.cols, 1000);
    cv::Scalar mean, spread;
    cv::meanStdDev(shot, mean, spread);
    EXPECT_GT(spread[0], 10.0);  // a page with content, not a blank one
    fs::create_directories(PTX_TEST_ARTIFACTS);
    core::write_file_atomic(fs::path(PTX_TEST_ARTIFACTS) / "serve-page.png", png);

    // The worklist lists the upload and the node's result; a click opens the latter in the viewer.
    json count;
    for (int i = 0; i < 100; ++i) {
      count = driver.command("POST", s + "/execute/sync",
                             {{"script", "return document.querySelectorAll('#worklist tbody tr').length;"},
                              {"args", json::array()}});
      if (count == 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(count, 2) << "the worklist does not show the upload and the node's result";
    const json rows = driver.command(
        "POST", s + "/elements", {{"using", "css selector"}, {"value", "#worklist tr[data-id='" + node_id + "']"}});
    ASSERT_EQ(rows.size(), 1u);
    driver.command("POST", s + "/element/" + rows[0][kElementKey].get<std::string>() + "/click");
    for (int i = 0; i < 100; ++i) {
      state = driver.command("POST", s + "/execute/sync",
                             {{"script",
                               "const $ = (id) => document.getElementById(id);"
                               "return {overlay: $('overlay').naturalWidth, probability: $('probability').textContent,"
                               " verdict: $('verdict').textContent, time: $('time').textContent};"},
                              {"args", json::array()}});
      if (state["overlay"] == 40) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(state["overlay"], 40) << state.dump();
    EXPECT_EQ(state["verdict"], "Pneumothorax found");
    EXPECT_EQ(state["probability"], "87.5 %");
    EXPECT_NE(state["time"].get<std::string>().find("node"), std::string::npos) << state.dump();
  } catch (...) {
    driver.command("DELETE", s);
    throw;
  }
  driver.command("DELETE", s);
}

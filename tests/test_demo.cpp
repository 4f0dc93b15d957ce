// ptx demo (src/ptx/demo) end to end at a tiny size, and its HTML report.
#include <gtest/gtest.h>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/demo/report.h"
#include "ptx/io/csv.h"
#include "test_support.h"

using namespace ptx;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::size_t csv_rows(const std::string& path) {
  io::CsvReader r(path);
  std::size_t n = 0;
  for (std::vector<std::string> f; r.next(f);) ++n;
  return n;
}

}  // namespace

TEST(Demo, RunsTheWholeStoryAndItsReportShowsTheNumbersEvaluateFinds) {
  test::TempDir dir;
  const bool real = !test::shared_data().empty();
  const auto r = test::run_ptx("--json --threads 2 demo --out " + (dir / "demo") +
                               " --count 40 --test-count 12 --image-size 64 --set data.size=64 --set epochs=2 --minutes 5 " +
                               (real ? "--extra " + test::shared_data() + "/siim-sample" : std::string("--no-extra")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  const double dice = j["test_dice"];
  EXPECT_GE(dice, 0.0);
  EXPECT_LE(dice, 1.0);
  EXPECT_EQ(j["report"], fs::absolute(dir / "demo/report.html").lexically_normal().string());

  // The submission has one row per test image, and ptx evaluate scores it as the report says.
  EXPECT_EQ(csv_rows(dir / "demo/submission.csv"), 1u + 12u);
  const auto e = test::run_ptx("--json evaluate --truth " + (dir / "demo/synth/test-rle.csv") + " --pred " +
                               (dir / "demo/submission.csv") + " --width 64 --height 64");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NEAR(json::parse(e.out)["dice"].get<double>(), dice, 1e-9);

  const std::string html = core::read_file(dir / "demo/report.html");
  for (const char* section : {"Results on the held-out test set", "Training", "Post-processing search", "Test images", "Timings"})
    EXPECT_NE(html.find(section), std::string::npos) << section;
  char shown[32];
  std::snprintf(shown, sizeof(shown), "%.4f", dice);
  EXPECT_NE(html.find(std::string("<td class=\"num\">") + shown + "</td>"), std::string::npos) << shown;
  // Curves, heat map and at least one gallery picture, embedded.
  EXPECT_GE(count_of(html, "src=\"data:image/png;base64,"), 3u);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);  // self-contained
  // Every test image was predicted; positives got a DICOM SEG.
  EXPECT_EQ(csv_rows(dir / "demo/test/predictions.csv"), 1u + 12u);
  EXPECT_TRUE(fs::exists(dir / "demo/thresholds/best.json"));
  if (real) {
    EXPECT_NE(html.find("Real radiographs"), std::string::npos);
    EXPECT_EQ(csv_rows(dir / "demo/extra/siim-sample/predictions.csv"), 1u + 10u);
  }
  // A second demo into the same folder replaces the first.
  const auto again = test::run_ptx("--json demo --out " + (dir / "demo") +
                                   " --count 40 --test-count 3 --image-size 64 --set data.size=64 --set epochs=1 --no-extra");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(csv_rows(dir / "demo/submission.csv"), 1u + 3u);
  EXPECT_FALSE(fs::exists(dir / "demo/extra"));
}

TEST(Demo, BadOptionsAreUsageErrors) {
  test::TempDir dir;
  // A folder that is not a demo's is not cleared.
  core::write_file_atomic(dir / "precious/notes.txt", "keep me");
  const auto refused = test::run_ptx("demo --out " + (dir / "precious") + " --count 40 --no-extra");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("not made by ptx demo"), std::string::npos) << refused.err;
  EXPECT_EQ(core::read_file(dir / "precious/notes.txt"), "keep me");
  EXPECT_EQ(test::run_ptx("demo --out " + (dir / "d") + " --count 5").exit_code, 2);
  const auto r = test::run_ptx("demo --out " + (dir / "d") + " --count 40 --no-extra --set model.encoder=resnet999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("resnet999"), std::string::npos) << r.err;
}

TEST(DemoReport, EscapesTextAndEmbedsPictures) {
  demo::Report report;
  report.title = "A <b>title</b>";
  report.sections.push_back({"S & T", "first\n\nsecond", {demo::Table{{"k", "v"}, {{"x<y", "0.5"}}}}, {{"PNG", "a \"quote\""}}});
  const std::string html = demo::render_report_html(report);
  EXPECT_NE(html.find("<h1>A &lt;b&gt;title&lt;/b&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("<h2>S &amp; T</h2>"), std::string::npos);
  EXPECT_NE(html.find("<p>first</p>\n<p>second</p>"), std::string::npos);
  EXPECT_NE(html.find("<td>x&lt;y</td><td class=\"num\">0.5</td>"), std::string::npos);
  EXPECT_NE(html.find("src=\"data:image/png;base64,UE5H\""), std::string::npos);  // base64 of "PNG"
  EXPECT_NE(html.find("a &quot;quote&quot;"), std::string::npos);
}

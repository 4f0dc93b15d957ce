#include <gtest/gtest.h>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/core/base64.h"
#include "ptx/core/error.h"
#include "ptx/core/progress.h"
#include "ptx/core/safe_name.h"
#include "ptx/core/sha256.h"
#include "test_support.h"

using namespace ptx;
namespace fs = std::filesystem;

TEST(SafeName, RejectsPathsAndControlCharacters) {
  EXPECT_TRUE(core::is_safe_file_stem("1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027"));
  EXPECT_TRUE(core::is_safe_file_stem("ID_0a1b2c3d4"));
  for (const char* bad : {"", "..", "a/b", "..\\x", "a..b", ".hidden", "-rf", "a\nb", "c:x"})
    EXPECT_FALSE(core::is_safe_file_stem(bad)) << bad;
  EXPECT_FALSE(core::is_safe_file_stem(std::string(300, 'a')));
}

TEST(AtomicFile, LeavesNoFileWhenNotCommitted) {
  test::TempDir dir;
  const fs::path target = dir.path() / "sub" / "out.txt";
  {
    core::AtomicOutput out(target);
    out.stream() << "half";
  }  // destroyed without commit, as when an exception unwinds
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(fs::is_empty(target.parent_path()));
  core::write_file_atomic(target, "whole");
  EXPECT_EQ(core::read_file(target), "whole");
  EXPECT_THROW(core::write_atomically(target, [](const fs::path&) { throw core::Error("boom"); }), core::Error);
  EXPECT_EQ(core::read_file(target), "whole");  // the old file survives a failed rewrite
}

TEST(AtomicFile, RemovesOnlyTemporariesOfDeadProcesses) {
  test::TempDir dir;
  const auto [stale, live] = test::plant_temporaries(dir.path());
  for (const char* other : {"notes.tmp.txt", "a.tmp.12x.0", "a.tmp.1", "a.tmp..0"}) core::write_file_atomic(dir.path() / other, "keep");
  EXPECT_EQ(core::remove_stale_temporaries(dir.path()), 1u);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  for (const char* other : {"notes.tmp.txt", "a.tmp.12x.0", "a.tmp.1", "a.tmp..0"}) EXPECT_TRUE(fs::exists(dir.path() / other)) << other;
  EXPECT_EQ(core::remove_stale_temporaries(dir.path() / "missing"), 0u);
}

TEST(AtomicFile, ReadErrorNamesTheFile) {
  try {
    core::read_file("/nonexistent/ptx.txt");
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ptx.txt"), std::string::npos);
  }
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(core::format_duration(5), "00:05");
  EXPECT_EQ(core::format_duration(3725), "1:02:05");
  EXPECT_EQ(core::format_duration(-1), "--:--");
  core::ProgressBar bar("x", 10);
  bar.set_enabled(false);
  bar.tick(3);
  EXPECT_EQ(bar.done(), 3u);
}

TEST(Base64, MatchesRfc4648AndRoundTrips) {
  // RFC 4648's test vectors.
  const std::vector<std::pair<std::string, std::string>> vectors{
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(ptx::core::base64_encode(plain), encoded);
    EXPECT_EQ(ptx::core::base64_decode(encoded), plain);
  }
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += char(i);
  EXPECT_EQ(ptx::core::base64_decode(ptx::core::base64_encode(bytes)), bytes);
  EXPECT_EQ(ptx::core::base64_decode("Zm9v\nYmFy"), "foobar");  // line breaks are skipped
  EXPECT_THROW(ptx::core::base64_decode("Zm9*"), ptx::core::Error);
}

TEST(Sha256, MatchesTheKnownDigestOfAbc) {
  ptx::test::TempDir dir;
  ptx::core::write_file_atomic(dir / "abc", "abc");
  EXPECT_EQ(ptx::core::sha256_file_hex(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(ptx::core::sha256_file_hex(dir / "missing"), ptx::core::Error);
}

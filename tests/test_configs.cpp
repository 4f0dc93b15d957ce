// Every configuration in configs/ starts and runs one short epoch (tiny images, few samples), so
// a key renamed in the code cannot leave a shipped configuration broken.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"
#include "training_fixture.h"

namespace fs = std::filesystem;

TEST(Configs, EveryShippedConfigurationRunsOneShortEpoch) {
  const fs::path configs = fs::path(PTX_SOURCE_DIR) / "configs";
  ASSERT_TRUE(fs::is_directory(configs));
  ptx::test::TempDir dir;
  int count = 0;
  for (const auto& e : fs::directory_iterator(configs)) {
    if (e.path().extension() != ".yaml") continue;
    ++count;
    const std::string name = e.path().stem().string();
    const auto r = ptx::test::run_ptx(
        "train " + e.path().string() + " -q --set data.index=" + ptx::test::synthetic_training_index() +
        " --set output=" + (dir / name) + " --set epochs=1 --set data.size=64 --set data.limit=12 --set batch_size=2"
        " --set data.workers=1 --set accumulate=1 --set minutes=0");
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
  EXPECT_GE(count, 13);  // one per seed model family, and demo.yaml
}

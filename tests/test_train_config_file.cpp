// YAML configuration documents (src/ptx/train/config_file): overrides, parts, key checks.
#include <gtest/gtest.h>

#include "ptx/core/atomic_file.h"
#include "ptx/train/config_file.h"
#include "test_support.h"

using namespace ptx;

TEST(TrainConfigFile, OverridesParseValuesAsYamlAndCreateMappings) {
  YAML::Node c = YAML::Load("epochs: 10\noptimizer: {type: adam, lr: 0.001}\n");
  train::apply_overrides(c, {"epochs=1", "optimizer.lr=1e-5", "data.size=128", "augment=[{type: hflip, p: 0.5}]"});
  EXPECT_EQ(c["epochs"].as<int>(), 1);
  EXPECT_DOUBLE_EQ(c["optimizer"]["lr"].as<double>(), 1e-5);
  EXPECT_EQ(c["optimizer"]["type"].as<std::string>(), "adam");  // siblings kept
  EXPECT_EQ(c["data"]["size"].as<int>(), 128);
  EXPECT_EQ(c["augment"][0]["type"].as<std::string>(), "hflip");
  EXPECT_NE(test::error_of([&] { train::apply_overrides(c, {"epochs"}); }).find("expected key=value"), std::string::npos);
  EXPECT_NE(test::error_of([&] { train::apply_overrides(c, {"epochs.x=1"}); }).find("'epochs' is not a mapping"),
            std::string::npos);
}

TEST(TrainConfigFile, PartsMergeOntoTheBase) {
  const YAML::Node c = YAML::Load(R"(
epochs: 10
sampler: {mode: sliding, positive_fraction: 0.8}
optimizer: {type: adam, lr: 1.0e-4}
scheduler: {type: plateau, patience: 2}
parts:
  - {}
  - sampler: {positive_fraction: 0.6}
  - sampler: {positive_fraction: 0.4}
    optimizer: {lr: 1.0e-5}
    scheduler: {type: cosine}
)");
  const auto parts = train::expand_parts(c);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_FALSE(parts[0]["parts"]);
  EXPECT_DOUBLE_EQ(parts[0]["sampler"]["positive_fraction"].as<double>(), 0.8);
  EXPECT_DOUBLE_EQ(parts[1]["sampler"]["positive_fraction"].as<double>(), 0.6);
  EXPECT_EQ(parts[1]["sampler"]["mode"].as<std::string>(), "sliding");
  EXPECT_DOUBLE_EQ(parts[2]["optimizer"]["lr"].as<double>(), 1e-5);
  EXPECT_EQ(parts[2]["optimizer"]["type"].as<std::string>(), "adam");
  EXPECT_EQ(parts[2]["scheduler"]["type"].as<std::string>(), "cosine");
  EXPECT_FALSE(parts[2]["scheduler"]["patience"]);  // another type: the plateau's keys are gone
  EXPECT_EQ(parts[1]["scheduler"]["type"].as<std::string>(), "plateau");  // parts do not leak into each other
  EXPECT_EQ(train::expand_parts(YAML::Load("epochs: 3")).size(), 1u);
  EXPECT_NE(test::error_of([] { train::expand_parts(YAML::Load("parts: 3")); }).find("parts: expected a non-empty list"),
            std::string::npos);
}

TEST(TrainConfigFile, UnknownKeysAndBadFilesNameWhere) {
  EXPECT_NE(test::error_of([] { train::check_keys(YAML::Load("{size: 1, szie: 2}"), "data", {"size", "fold"}); })
                .find("data: unknown key 'szie': valid keys are size, fold"),
            std::string::npos);
  EXPECT_EQ(test::error_of([] { train::check_keys(YAML::Load("{size: 1}"), "data", {"size"}); }), "");
  test::TempDir dir;
  core::write_file_atomic(dir / "bad.yaml", "epochs: 1\ndata: [1, 2\n");
  EXPECT_NE(test::error_of([&] { train::load_config_file(dir / "bad.yaml"); }).find("bad.yaml:"), std::string::npos);
  core::write_file_atomic(dir / "list.yaml", "- 1\n- 2\n");
  EXPECT_NE(test::error_of([&] { train::load_config_file(dir / "list.yaml"); }).find("a YAML mapping"), std::string::npos);
  EXPECT_NE(test::error_of([&] { train::load_config_file(dir / "absent.yaml"); }).find("cannot read"), std::string::npos);
}

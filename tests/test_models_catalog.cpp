// The model catalogue (src/ptx/models/catalog) and `ptx models list`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ptx/models/catalog.h"
#include "test_support.h"

using namespace ptx;

TEST(ModelsCatalog, ListsEveryEncoderForTheUNetWithExactCounts) {
  models::CatalogOptions o;
  o.arch = "unet";
  o.size = 0;
  size_t calls = 0;
  const auto entries = models::model_catalog(o, [&](size_t done, size_t total) {
    ++calls;
    EXPECT_LE(done, total);
  });
  // Every registry encoder makes a U-Net.
  ASSERT_EQ(entries.size(), models::encoder_names().size());
  EXPECT_EQ(calls, models::encoder_names().size());
  for (const auto& e : entries) {
    EXPECT_EQ(e.spec.arch, "unet");
    EXPECT_EQ(e.macs, 0);
    if (e.spec.encoder == "resnet34") {
      EXPECT_EQ(e.parameters, 24436369);
    }
    if (e.spec.encoder == "resnet50") {
      EXPECT_EQ(e.parameters, 32521105);
    }
  }
}

TEST(ModelsCatalog, CountsMacsAtTheRequestedSize) {
#ifndef NDEBUG
  GTEST_SKIP() << "count_macs needs a Release build";
#endif
  models::CatalogOptions o;
  o.arch = "unet";
  o.encoder = "resnet34";
  o.size = 64;
  const auto at64 = models::model_catalog(o);
  o.size = 128;
  const auto at128 = models::model_catalog(o);
  ASSERT_EQ(at64.size(), 1u);
  ASSERT_EQ(at128.size(), 1u);
  // Convolutions scale with the pixel count: 7.814 GMAC at 256 is 16 times the figure at 64.
  EXPECT_EQ(at128[0].macs, 4 * at64[0].macs);
  EXPECT_NEAR(at64[0].macs * 16 / 1e9, 7.81, 0.01);
}

TEST(ModelsCatalog, UnknownNamesListTheValidOnes) {
  models::CatalogOptions o;
  o.arch = "unet3d";
  EXPECT_NE(test::error_of([&] { models::model_catalog(o); }).find("valid values are unet"), std::string::npos);
  o.arch = "";
  o.encoder = "resnet35";
  EXPECT_NE(test::error_of([&] { models::model_catalog(o); }).find("resnet34"), std::string::npos);
}

TEST(ModelsCli, ListPrintsJsonWithParameterCounts) {
  const auto r = test::run_ptx("models list --arch classifier --encoder resnet34 --classes 1000 --size 0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 1u);
  EXPECT_EQ(j["models"][0]["encoder"], "resnet34");
  EXPECT_EQ(j["models"][0]["parameters"], 21797672);
  EXPECT_FALSE(j["models"][0].contains("gmacs"));
}

TEST(ModelsCli, ListRejectsAnUnknownEncoder) {
  const auto r = test::run_ptx("models list --encoder resnet35 --size 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown encoder 'resnet35'"), std::string::npos) << r.err;
}

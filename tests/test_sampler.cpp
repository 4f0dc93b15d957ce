#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "ptx/core/error.h"
#include "ptx/data/sampler.h"
#include "test_support.h"

using namespace ptx;
using data::RateSchedule;
using data::Sampler;
using data::SamplingMode;

namespace {
// 10 positives (every 10th sample) among 100.
std::vector<int> labels100() {
  std::vector<int> l(100, 0);
  for (int i = 0; i < 100; i += 10) l[i] = 1;
  return l;
}
std::size_t count_positives(const std::vector<std::size_t>& epoch, const std::vector<int>& labels) {
  return std::size_t(std::count_if(epoch.begin(), epoch.end(), [&](std::size_t i) { return labels[i] > 0; }));
}
data::SamplerOptions sliding(RateSchedule rate, uint64_t seed = 1) {
  data::SamplerOptions o;
  o.mode = SamplingMode::sliding;
  o.rate = rate;
  o.seed = seed;
  return o;
}
}  // namespace

TEST(Sampler, SlidingTakesEveryPositiveAndDrawsNegativesToTheFraction) {
  const auto labels = labels100();
  const Sampler s(labels, sliding(RateSchedule::steps({{0, 0.8}, {2, 0.5}, {4, 0.4}})));
  const std::vector<std::pair<int, std::size_t>> expected = {{0, 13}, {1, 13}, {2, 20}, {3, 20}, {4, 25}, {9, 25}};
  for (const auto& [e, size] : expected) {
    const auto epoch = s.epoch(e);
    EXPECT_EQ(epoch.size(), size) << "epoch " << e;
    EXPECT_EQ(count_positives(epoch, labels), 10u);
    std::set<std::size_t> positives;
    for (std::size_t i : epoch)
      if (labels[i]) positives.insert(i);
    EXPECT_EQ(positives.size(), 10u);  // every positive exactly once
  }
  // Negatives are drawn with replacement: a fraction of 0.1 needs 90 negative draws from 90
  // negatives, so some repeat.
  const Sampler low(labels, sliding(RateSchedule::constant(0.1)));
  const auto epoch = low.epoch(0);
  EXPECT_EQ(epoch.size(), 100u);
  EXPECT_LT(std::set<std::size_t>(epoch.begin(), epoch.end()).size(), 100u);
}

TEST(Sampler, LinearAndStepSchedules) {
  const RateSchedule lin = RateSchedule::linear(0.8, 0.2, 7);
  EXPECT_DOUBLE_EQ(lin.at(0), 0.8);
  EXPECT_NEAR(lin.at(3), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(lin.at(6), 0.2);
  EXPECT_DOUBLE_EQ(lin.at(50), 0.2);
  const RateSchedule steps = RateSchedule::steps({{2, 0.6}, {5, 0.4}});
  EXPECT_DOUBLE_EQ(steps.at(0), 0.6);
  EXPECT_DOUBLE_EQ(steps.at(4), 0.6);
  EXPECT_DOUBLE_EQ(steps.at(5), 0.4);
  EXPECT_NE(test::error_of([] { RateSchedule::constant(0); }), "");
  EXPECT_NE(test::error_of([] { RateSchedule::constant(1.5); }), "");
}

TEST(Sampler, ScheduleFromYamlAndErrorsNameTheKey) {
  EXPECT_DOUBLE_EQ(RateSchedule::from_yaml(YAML::Load("0.3"), "rate").at(7), 0.3);
  EXPECT_DOUBLE_EQ(RateSchedule::from_yaml(YAML::Load("{0: 0.8, 10: 0.6, 20: 0.4}"), "rate").at(15), 0.6);
  EXPECT_NEAR(RateSchedule::from_yaml(YAML::Load("{from: 0.8, to: 0.2, epochs: 4}"), "rate").at(1), 0.6, 1e-12);
  auto err = [](const std::string& y) { return test::error_of([&] { RateSchedule::from_yaml(YAML::Load(y), "sampler.rate"); }); };
  EXPECT_NE(err("{0: 0.8, ten: 0.6}").find("sampler.rate.ten"), std::string::npos);
  EXPECT_NE(err("{0: 0.8, 10: 1.6}").find("sampler.rate.10"), std::string::npos);
  EXPECT_NE(err("{from: 0.8, to: 0.2}").find("sampler.rate.epochs"), std::string::npos);
  EXPECT_NE(err("{from: 0.8, to: 0.2, epochs: 3, step: 1}").find("sampler.rate.step"), std::string::npos);
  const auto o = data::sampler_options_from_yaml(YAML::Load("{mode: sliding, rate: 0.5, seed: 9}"), "sampler");
  EXPECT_EQ(o.mode, SamplingMode::sliding);
  EXPECT_EQ(o.seed, 9u);
  const std::string e = test::error_of([] { data::sampler_options_from_yaml(YAML::Load("{mode: slide}"), "sampler"); });
  EXPECT_NE(e.find("sampler.mode"), std::string::npos);
  EXPECT_NE(e.find("positives_only"), std::string::npos);
}

TEST(Sampler, ShuffleAndPositivesOnly) {
  const auto labels = labels100();
  data::SamplerOptions o;
  o.seed = 4;
  const Sampler all(labels, o);
  auto epoch = all.epoch(0);
  std::vector<std::size_t> sorted = epoch;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_FALSE(std::is_sorted(epoch.begin(), epoch.end()));
  o.mode = SamplingMode::positives_only;
  const Sampler pos(labels, o);
  EXPECT_EQ(pos.epoch(3).size(), 10u);
  EXPECT_EQ(count_positives(pos.epoch(3), labels), 10u);
  EXPECT_NE(test::error_of([] { Sampler(std::vector<int>(5, 0), sliding(RateSchedule::constant(0.5))); }), "");
  EXPECT_NE(test::error_of([] { Sampler(std::vector<int>(5, 1), sliding(RateSchedule::constant(0.5))).epoch(0); }), "");
  EXPECT_EQ(Sampler(std::vector<int>(5, 1), sliding(RateSchedule::constant(1.0))).epoch(0).size(), 5u);
}

TEST(Sampler, ReproducibleAndResumable) {
  const auto labels = labels100();
  const Sampler a(labels, sliding(RateSchedule::constant(0.4), 7)), b(labels, sliding(RateSchedule::constant(0.4), 7)),
      c(labels, sliding(RateSchedule::constant(0.4), 8));
  EXPECT_EQ(a.epoch(2), b.epoch(2));
  EXPECT_NE(a.epoch(2), a.epoch(3));
  EXPECT_NE(a.epoch(2), c.epoch(2));
  EXPECT_NE(a.epoch_seed(2), a.epoch_seed(3));

  Sampler run(labels, sliding(RateSchedule::constant(0.4), 7));
  run.next();
  run.next();
  const std::string state = run.state();
  const auto third = run.next();
  Sampler resumed(labels, sliding(RateSchedule::constant(0.4), 123));
  resumed.restore(state);
  EXPECT_EQ(resumed.current_epoch(), 2);
  EXPECT_EQ(resumed.next(), third);
  EXPECT_NE(test::error_of([&] { resumed.restore("nonsense"); }), "");
}

TEST(Sampler, ShardsAreDisjointEqualAndCoverTheEpoch) {
  std::vector<std::size_t> epoch(13);
  for (std::size_t i = 0; i < epoch.size(); ++i) epoch[i] = 100 + i;
  for (int world : {1, 2, 3, 4, 13, 20}) {
    std::vector<std::size_t> counts(113, 0);
    std::size_t total = 0, len = 0;
    for (int r = 0; r < world; ++r) {
      const auto part = data::shard(epoch, r, world);
      if (r == 0) len = part.size();
      EXPECT_EQ(part.size(), len) << "world " << world;
      for (std::size_t v : part) ++counts[v];
      total += part.size();
    }
    EXPECT_EQ(len, (epoch.size() + world - 1) / world);
    EXPECT_EQ(total, len * world);
    // Every sample appears; only the padding (total - 13 of them) appears twice.
    std::size_t extra = 0;
    for (std::size_t v = 100; v < 113; ++v) {
      EXPECT_GE(counts[v], 1u);
      extra += counts[v] - 1;
    }
    EXPECT_EQ(extra, total - epoch.size()) << "world " << world;
  }
  // Without padding the shards are a partition.
  std::vector<std::size_t> even(12);
  for (std::size_t i = 0; i < 12; ++i) even[i] = i;
  std::set<std::size_t> seen;
  for (int r = 0; r < 4; ++r)
    for (std::size_t v : data::shard(even, r, 4)) EXPECT_TRUE(seen.insert(v).second);
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_NE(test::error_of([&] { data::shard(even, 4, 4); }), "");
}

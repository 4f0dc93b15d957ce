#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/data/augment.h"
#include "ptx/data/loader.h"
#include "ptx/data/multilabel.h"
#include "ptx/data/sampler.h"
#include "ptx/data/seed.h"
#include "test_support.h"
#include "train_data_fixture.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {
const char* kAugment = R"(
- {type: hflip, p: 0.5}
- {type: shift_scale_rotate, p: 0.8, shift: 0.1, scale: 0.1, rotate: 20}
- {type: one_of, p: 0.5, transforms: [{type: elastic, alpha: 30, sigma: 4}, {type: grid_distortion}]}
- {type: brightness, p: 0.5}
- {type: gauss_noise, p: 0.5}
)";

std::vector<data::Batch> load_all(const data::TrainDataset& ds, const std::vector<std::size_t>& order, const data::Pipeline* aug,
                                  int workers, int batch = 4) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  data::Loader loader(ds, order, aug, 77, o);
  std::vector<data::Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  EXPECT_EQ(out.size(), loader.batches());
  return out;
}
}  // namespace

TEST(Loader, OrderAndContentDoNotDependOnTheWorkerCount) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 12, 64);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  data::SamplerOptions so;
  so.mode = data::SamplingMode::sliding;
  so.rate = data::RateSchedule::constant(0.4);
  so.seed = 5;
  const data::Sampler sampler(ds.labels(), so);
  const auto order = sampler.epoch(0);  // 4 positives + 6 negatives drawn with replacement
  ASSERT_EQ(order.size(), 10u);
  const data::Pipeline aug = data::Pipeline::from_yaml_string(kAugment);

  const auto reference = load_all(ds, order, &aug, 0);
  ASSERT_EQ(reference.size(), 3u);  // 4 + 4 + 2
  EXPECT_EQ(reference[2].images.size(0), 2);
  std::size_t pos = 0;
  for (const auto& b : reference) {
    EXPECT_EQ(b.first, pos);
    for (std::size_t k = 0; k < b.indices.size(); ++k, ++pos) {
      EXPECT_EQ(b.indices[k], order[pos]);
      EXPECT_EQ(b.labels[int64_t(k)].item<float>(), float(ds.labels()[order[pos]]));
    }
  }
  EXPECT_EQ(pos, order.size());
  // Sample at position i = dataset.get with the pipeline seeded from (seed, i).
  data::Pipeline p = aug;
  p.seed(data::derive_seed(77, 5));
  EXPECT_TRUE(torch::equal(reference[1].images[1], ds.get(order[5], &p).image));

  for (int workers : {1, 2, 4}) {
    const auto got = load_all(ds, order, &aug, workers);
    ASSERT_EQ(got.size(), reference.size());
    for (std::size_t b = 0; b < got.size(); ++b) {
      EXPECT_EQ(got[b].indices, reference[b].indices);
      EXPECT_TRUE(torch::equal(got[b].images, reference[b].images)) << workers << " workers, batch " << b;
      EXPECT_TRUE(torch::equal(got[b].masks, reference[b].masks));
      EXPECT_TRUE(torch::equal(got[b].labels, reference[b].labels));
    }
  }
  // Augmentation does something, and a different seed gives different batches.
  const auto plain = load_all(ds, order, nullptr, 2);
  EXPECT_FALSE(torch::equal(plain[0].images, reference[0].images));
  data::LoaderOptions o;
  o.batch_size = 4;
  data::Loader other(ds, order, &aug, 78, o);
  EXPECT_FALSE(torch::equal(other.next()->images, reference[0].images));
}

TEST(Loader, DropLastAndShapes) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 7, 40);
  data::DatasetOptions o;
  o.size = 32;
  o.channels = 3;
  const data::TrainDataset ds(dir.path().string(), rows, o);
  data::LoaderOptions lo;
  lo.batch_size = 3;
  lo.drop_last = true;
  data::Loader loader(ds, data::all_indices(ds), nullptr, 0, lo);
  EXPECT_EQ(loader.batches(), 2u);
  const auto b = loader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->images.sizes().vec(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_EQ(b->masks.sizes().vec(), (std::vector<int64_t>{3, 1, 32, 32}));
  EXPECT_EQ(b->labels.sizes().vec(), (std::vector<int64_t>{3}));
  EXPECT_TRUE(loader.next());
  EXPECT_FALSE(loader.next());
}

TEST(Loader, StoppingEarlyDoesNotHang) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 8, 64);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  std::vector<std::size_t> order;
  for (int r = 0; r < 50; ++r)
    for (std::size_t i = 0; i < ds.size(); ++i) order.push_back(i);
  const data::Pipeline aug = data::Pipeline::from_yaml_string(kAugment);
  const auto start = std::chrono::steady_clock::now();
  for (int workers : {1, 3}) {
    data::LoaderOptions o;
    o.batch_size = 2;
    o.workers = workers;
    o.prefetch = 2;
    {
      data::Loader loader(ds, order, &aug, 1, o);
      ASSERT_TRUE(loader.next());  // take one batch of 200, then drop the loader
    }
    data::Loader loader(ds, order, &aug, 1, o);
    ASSERT_TRUE(loader.next());
    loader.stop();
    EXPECT_FALSE(loader.next());
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20.0);
}

TEST(Loader, WorkerErrorsReachTheConsumerNamingTheFile) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 6, 32);
  fs::remove(dir.path() / rows[4].image);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  ASSERT_EQ(ds.check_files().size(), 1u);
  for (int workers : {0, 1, 2}) {
    data::LoaderOptions o;
    o.batch_size = 2;
    o.workers = workers;
    data::Loader loader(ds, data::all_indices(ds), nullptr, 0, o);
    ASSERT_TRUE(loader.next());  // rows 0, 1
    ASSERT_TRUE(loader.next());  // rows 2, 3
    const std::string e = test::error_of([&] { loader.next(); });
    EXPECT_NE(e.find("images/img4.png"), std::string::npos) << workers << ": " << e;
    EXPECT_FALSE(loader.next());
  }
  EXPECT_NE(test::error_of([&] { data::Loader(ds, {0, 99}, nullptr, 0); }).find("99"), std::string::npos);
}

TEST(Loader, StacksMultiLabelTargets) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 3, 32);
  core::write_file_atomic(dir / "labels.csv", "Image Index,Finding Labels\nimg0.png,Mass\nimg1.png,No Finding\nimg2.png,Effusion|Mass\n");
  data::TrainDataset ds(dir.path().string(), rows, {});
  ds.set_targets(data::read_multilabel_csv(dir / "labels.csv"));
  data::LoaderOptions o;
  o.batch_size = 3;
  data::Loader loader(ds, {2, 0, 1}, nullptr, 0, o);
  const auto b = loader.next();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->targets.defined());
  EXPECT_TRUE(torch::equal(b->targets, torch::tensor({1.0f, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f}).reshape({3, 2})));  // Effusion, Mass
  EXPECT_TRUE(torch::equal(b->labels, torch::tensor({0.0f, 1.0f, 0.0f})));
}

// A distributed rank's shard, loaded with position_offset = rank and position_stride = world,
// augments every sample exactly as the whole epoch's loader does at that sample's position.
TEST(Loader, ShardPositionsAugmentAsTheWholeEpoch) {
  test::TempDir dir;
  const auto rows = test::write_square_set(dir.path(), 8, 64);
  const data::TrainDataset ds(dir.path().string(), rows, {});
  const data::Pipeline aug = data::Pipeline::from_yaml_string(kAugment);
  const std::vector<std::size_t> epoch{3, 1, 4, 0, 5, 2, 7, 6};
  const auto whole = load_all(ds, epoch, &aug, 1, 8);
  ASSERT_EQ(whole.size(), 1u);
  bool differs_unkeyed = false;
  for (int rank = 0; rank < 2; ++rank) {
    const auto part = data::shard(epoch, rank, 2);
    data::LoaderOptions o;
    o.batch_size = 4;
    o.workers = 1;
    o.position_offset = std::size_t(rank);
    o.position_stride = 2;
    data::Loader loader(ds, part, &aug, 77, o);
    const auto b = loader.next();
    ASSERT_TRUE(b.has_value());
    const auto plain = load_all(ds, part, &aug, 1, 4);  // positions of the shard itself
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t pos = 2 * k + rank;
      EXPECT_EQ(b->indices[size_t(k)], epoch[size_t(pos)]);
      EXPECT_TRUE(torch::equal(b->images[k], whole[0].images[pos])) << "rank " << rank << " sample " << k;
      EXPECT_TRUE(torch::equal(b->masks[k], whole[0].masks[pos]));
      differs_unkeyed = differs_unkeyed || !torch::equal(plain[0].images[k], whole[0].images[pos]);
    }
  }
  EXPECT_TRUE(differs_unkeyed);  // without the option the shard's augmentation differs
}

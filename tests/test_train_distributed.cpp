// Data-parallel training (src/ptx/train/distributed, trainer --distributed): the torchrun
// environment, the collectives of two ranks in one process (two threads over loopback), a rank
// that cannot connect, and two `ptx train --distributed` processes against one process with the
// doubled batch.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ptx/core/atomic_file.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/registry.h"
#include "ptx/train/distributed.h"
#include "process_support.h"
#include "test_support.h"
#include "training_fixture.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {

using test::free_port;

train::DistributedEnv loopback_env(int rank, int world, int port) {
  return train::DistributedEnv{rank, world, "127.0.0.1", port};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(DistributedEnv, NamesTheMissingOrBadVariable) {
  std::map<std::string, std::string> vars{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}};
  const auto env_of = [&](const std::map<std::string, std::string>& v) {
    return train::distributed_env([&](const char* name) -> const char* {
      const auto it = v.find(name);
      return it == v.end() ? nullptr : it->second.c_str();
    });
  };
  const auto env = env_of(vars);
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.1");
  EXPECT_EQ(env.master_port, 29500);
  for (const char* name : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) {
    auto v = vars;
    v.erase(name);
    const std::string err = test::error_of([&] { env_of(v); });
    EXPECT_NE(err.find(std::string("variable ") + name + " is not set"), std::string::npos) << err;
  }
  auto bad = vars;
  bad["RANK"] = "2";
  EXPECT_NE(test::error_of([&] { env_of(bad); }).find("RANK=2: expected this process's rank in 0..1"), std::string::npos);
  bad = vars;
  bad["MASTER_PORT"] = "port";
  EXPECT_NE(test::error_of([&] { env_of(bad); }).find("MASTER_PORT=port"), std::string::npos);
}

TEST(TrainDistributed, WithoutTheTorchrunEnvironmentTheCommandSaysWhatToSet) {
  if (std::getenv("WORLD_SIZE")) GTEST_SKIP() << "WORLD_SIZE is set in this environment";
  test::TempDir dir;
  const std::string config = dir / "c.yaml";
  core::write_file_atomic(config, "data: {index: " + test::synthetic_training_index() + ", channels: 1, size: 64}\n");
  const auto r = test::run_ptx("train " + config + " --distributed --set output=" + dir / "out");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("WORLD_SIZE is not set"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("torchrun"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(DistributedContext, OneProcessIsRankZeroAndCollectivesAreNoOps) {
  train::DistributedContext single;
  EXPECT_EQ(single.rank(), 0);
  EXPECT_EQ(single.world(), 1);
  EXPECT_FALSE(single.distributed());
  EXPECT_EQ(single.all_reduce_sum({1.5, 2}), (std::vector<double>{1.5, 2}));
  auto p = torch::ones({3}, torch::requires_grad());
  p.mutable_grad() = torch::full({3}, 4.0);
  single.all_reduce_gradients({p});
  EXPECT_TRUE(torch::equal(p.grad(), torch::full({3}, 4.0)));
  single.barrier();
}

// Two ranks in two threads of this process, over loopback: every collective the trainer uses.
TEST(DistributedContext, TwoRanksBroadcastAverageAndSum) {
  const int port = free_port();
  struct Seen {
    torch::Tensor weight, running_mean, grad_small_buckets, grad_one_bucket;
    size_t small_buckets = 0, one_bucket = 0;
    std::vector<double> sums, broadcast;
  };
  const auto rank_main = [port](int rank) {
    auto ctx = train::DistributedContext::connect(loopback_env(rank, 2, port), torch::kCPU, std::chrono::seconds(30));
    Seen seen;
    // Different weights and statistics on each rank before the broadcast (set, not drawn: the
    // two threads share LibTorch's generator).
    torch::nn::Sequential model(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4));
    {
      torch::NoGradGuard no_grad;
      model->named_parameters()["0.weight"].copy_(double(1 - 2 * rank) * torch::arange(12, torch::kFloat).view({4, 3}));
      model->named_buffers()["1.running_mean"].fill_(double(rank + 1));
    }
    ctx->broadcast_model(*model);
    seen.weight = model->named_parameters()["0.weight"].clone();
    seen.running_mean = model->named_buffers()["1.running_mean"].clone();
    // Gradients (rank + 1) * (1, 2, 3, ...): their mean is 1.5 * (1, 2, 3, ...).
    const auto params = model->parameters();
    for (auto& p : params) p.mutable_grad() = double(rank + 1) * torch::arange(1, p.numel() + 1, torch::kFloat).view(p.sizes());
    ctx->set_bucket_bytes(32);  // 8 floats: the 12-float weight alone, the others together
    ctx->all_reduce_gradients(params);
    seen.small_buckets = ctx->last_bucket_count();
    seen.grad_small_buckets = params[0].grad().clone();
    for (auto& p : params) p.mutable_grad() = double(rank + 1) * torch::ones_like(p);
    ctx->set_bucket_bytes(size_t(25) << 20);
    ctx->all_reduce_gradients(params);
    seen.one_bucket = ctx->last_bucket_count();
    seen.grad_one_bucket = torch::cat({params[0].grad().flatten(), params[3].grad().flatten()});
    seen.sums = ctx->all_reduce_sum({double(rank + 1), 10.0});
    seen.broadcast = ctx->broadcast({double(rank) + 0.25});
    ctx->barrier();
    return seen;
  };
  auto f0 = std::async(std::launch::async, rank_main, 0);
  auto f1 = std::async(std::launch::async, rank_main, 1);
  const Seen s0 = f0.get(), s1 = f1.get();

  for (const Seen* s : {&s0, &s1}) {
    EXPECT_TRUE(torch::equal(s->weight, torch::arange(12, torch::kFloat).view({4, 3})));  // rank 0's
    EXPECT_TRUE(torch::equal(s->running_mean, torch::ones({4})));  // rank 0's statistics
    EXPECT_TRUE(torch::allclose(s->grad_small_buckets, 1.5 * torch::arange(1, 13, torch::kFloat).view({4, 3})));
    EXPECT_EQ(s->small_buckets, 3u);  // weight (48 B); bias 16 B + bn weight 16 B; bn bias
    EXPECT_EQ(s->one_bucket, 1u);
    EXPECT_TRUE(torch::allclose(s->grad_one_bucket, torch::full({16}, 1.5)));
    EXPECT_EQ(s->sums, (std::vector<double>{3.0, 20.0}));
    EXPECT_EQ(s->broadcast, (std::vector<double>{0.25}));
  }
}

TEST(DistributedContext, ARankThatCannotReachRankZeroNamesTheAddress) {
  const int port = free_port();  // nobody serves it
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = test::error_of(
      [&] { train::DistributedContext::connect(loopback_env(1, 2, port), torch::kCPU, std::chrono::seconds(2)); });
  EXPECT_NE(err.find("rank 1 could not reach rank 0's store at 127.0.0.1:" + std::to_string(port)), std::string::npos) << err;
  EXPECT_NE(err.find("MASTER_ADDR"), std::string::npos) << err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

// Two `ptx train --distributed` processes with batch B each against one process with batch 2B
// on the same 8 samples. The comparison is exact in principle:
// - batch norm: freeze_batch_norm (eval mode while training), so a sample's gradient does not
//   depend on the other samples of its batch (per-rank batch statistics would differ from a 2B
//   batch's, as in DDP without SyncBN);
// - the loss is a mean over samples (plain BCE), so the mean of the two ranks' gradients is the
//   2B batch's gradient; no dropout; SGD with momentum;
// - sampler "shuffle" over 8 samples, B = 2: rank r takes epoch positions r, r + 2, ..., so its
//   k-th batch and the other rank's make up the single process's k-th batch; the hflip
//   augmentation is seeded by the position in the whole epoch (LoaderOptions.position_*), so
//   every sample is flipped as in the single process.
// Only floating-point summation order differs (batch 2 vs 4 convolutions, the all-reduce).
TEST(TrainDistributed, TwoRanksMatchOneProcessWithTheDoubledBatch) {
  test::TempDir dir;
  const std::string config = dir / "tiny.yaml";
  core::write_file_atomic(config, std::string(R"(
data: {fold: 0, size: 64, channels: 1, normalize: none, workers: 1, limit: 8, index: )") +
                                      test::synthetic_training_index() + R"(}
model: {arch: unet, encoder: resnet18, decoder_channels: [16, 16, 8, 8, 8]}
sampler: {mode: shuffle}
augment: [{type: hflip, p: 0.5}]
loss: {type: bce}
optimizer: {type: sgd, lr: 0.01, momentum: 0.9}
scheduler: {type: constant}
freeze_batch_norm: true
epochs: 2
batch_size: 2
top_k: 1
validation: {triplets: {top: [0.5], area: [0], bottom: [0.3]}}
seed: 7
)");
  const auto command = [&](const std::string& env, const std::string& args, const std::string& log) {
    return "timeout 120 env " + env + " " + PTX_EXECUTABLE + " --threads 1 train " + config + " " + args + " >" + log +
           ".out 2>" + log + ".err </dev/null";
  };
  const auto exit_code = [](int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; };

  // One process, batch 4.
  const int single = std::system(command("PTX_DEBUG_WEIGHTS_OUT=" + dir / "single.ckpt",
                                         "--set batch_size=4 --set output=" + dir / "single", dir / "single")
                                     .c_str());
  ASSERT_EQ(exit_code(single), 0) << slurp(dir / "single.err");
  EXPECT_NE(slurp(dir / "single.err").find("on 8 images"), std::string::npos) << slurp(dir / "single.err");

  // Two ranks, batch 2 each.
  const std::string port = std::to_string(free_port());
  const auto rank = [&](int r) {
    const std::string env = "RANK=" + std::to_string(r) + " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port +
                            " PTX_DEBUG_WEIGHTS_OUT=" + dir / ("rank" + std::to_string(r) + ".ckpt");
    return std::system(
        command(env, "--distributed --dist-timeout 60 --set output=" + dir / "dist", dir / ("rank" + std::to_string(r)))
            .c_str());
  };
  auto r0 = std::async(std::launch::async, rank, 0);
  auto r1 = std::async(std::launch::async, rank, 1);
  const int s0 = r0.get(), s1 = r1.get();
  ASSERT_EQ(exit_code(s0), 0) << slurp(dir / "rank0.err");
  ASSERT_EQ(exit_code(s1), 0) << slurp(dir / "rank1.err");
  const std::string log0 = slurp(dir / "rank0.err"), log1 = slurp(dir / "rank1.err");
  EXPECT_NE(log0.find("on 8 images (2 processes, batch 2 each)"), std::string::npos) << log0;
  EXPECT_NE(log0.find("epoch 2:"), std::string::npos) << log0;
  EXPECT_EQ(log1.find("epoch"), std::string::npos) << log1;  // rank 0 alone reports

  const auto w0 = models::load_checkpoint(dir / "rank0.ckpt");
  const auto w1 = models::load_checkpoint(dir / "rank1.ckpt");
  const auto w = models::load_checkpoint(dir / "single.ckpt");
  const auto last0 = models::load_checkpoint(dir / "dist/last.ckpt");
  ASSERT_EQ(w0.state_dict.size(), w.state_dict.size());
  ASSERT_EQ(w1.state_dict.size(), w.state_dict.size());

  // The initial weights (the trainer seeds with `seed` before building), to show training moved them.
  torch::manual_seed(7);
  const auto initial = models::build_model(w.spec);
  const auto initial_state = initial->named_parameters();
  const auto initial_buffers = initial->named_buffers();

  double max_vs_single = 0, max_moved = 0;
  for (const auto& [name, t0] : w0.state_dict) {
    ASSERT_TRUE(w1.state_dict.count(name) && w.state_dict.count(name)) << name;
    // (a) both ranks end with the same weights and buffers, bit for bit; rank 0's checkpoint holds them.
    EXPECT_TRUE(torch::equal(t0, w1.state_dict.at(name))) << name;
    EXPECT_TRUE(torch::equal(t0, last0.state_dict.at(name))) << name;
    if (!t0.is_floating_point()) continue;
    // (b) they equal the single process's within 1e-5.
    max_vs_single = std::max(max_vs_single, (t0 - w.state_dict.at(name)).abs().max().item<double>());
    if (const auto* p = initial_state.find(name)) max_moved = std::max(max_moved, (t0 - *p).abs().max().item<double>());
    if (const auto* b = initial_buffers.find(name)) {  // frozen batch norm: running statistics untouched
      EXPECT_TRUE(torch::equal(t0, *b)) << name;
    }
  }
  std::printf("distributed vs single process: max weight difference %.3g (weights moved up to %.3g)\n", max_vs_single,
              max_moved);
  EXPECT_LT(max_vs_single, 1e-5);
  EXPECT_GT(max_moved, 1e-3);  // the comparison is not between untrained models

  // The logged curves agree: the train loss is averaged over both ranks' images, rank 0 validates.
  // (Losses to 1e-4: they amplify the weights' ~1e-6 rounding differences through the network,
  // and validation batches differ too, 2 against 4.)
  const auto h = nlohmann::json::parse(slurp(dir / "single/history.json"));
  const auto hd = nlohmann::json::parse(slurp(dir / "dist/history.json"));
  ASSERT_EQ(h.size(), 2u);
  ASSERT_EQ(hd.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(hd[e]["train_loss"].get<double>(), h[e]["train_loss"].get<double>(), 1e-4) << "epoch " << e + 1;
    EXPECT_NEAR(hd[e]["valid_loss"].get<double>(), h[e]["valid_loss"].get<double>(), 1e-4) << "epoch " << e + 1;
  }
}

// The planned tensor arena (src/ptx/core/tensor_arena): passes served from a plan give the plain
// path's outputs, for every model family and for several input sizes in one process, and the
// arena steps aside (never overwrites) where a pass departs from its plan.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>
#include <vector>

#include "ptx/core/tensor_arena.h"
#include "ptx/models/fold.h"
#include "ptx/models/registry.h"

using namespace ptx;

namespace {

// A few ops whose intermediates are freed along the way, as a network's feature maps are.
torch::Tensor pass(const torch::Tensor& x, std::vector<torch::Tensor>* keep = nullptr) {
  auto g = torch::cat({(x * 2 + 1).relu(), x.flip({1})}, 1);
  if (keep) keep->push_back(g);  // lives past the point where the recorded pass freed it
  auto y = torch::matmul(g, g.transpose(0, 1));
  g.reset();  // in the recorded pass, the blocks made from here on may be planned over g's bytes
  return ((y.sigmoid() * 3).exp() + torch::ones_like(y)).sum(1);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST(TensorArena, PlannedPassesGiveThePlainOutputs) {
  const auto x = torch::randn({64, 48});
  const auto expected = pass(x);
  const auto before = core::tensor_arena_stats();
  std::vector<torch::Tensor> outputs;
  for (int i = 0; i < 4; ++i) {
    core::TensorArenaScope arena("test: plain outputs");
    outputs.push_back(pass(x));
  }
  const auto after = core::tensor_arena_stats();
  EXPECT_EQ(after.recorded - before.recorded, 1u);
  EXPECT_EQ(after.planned - before.planned, 3u);
  EXPECT_EQ(after.departed, before.departed);
  EXPECT_GT(after.buffer_bytes, 0u);
  // The outputs escape their pass: every one is still the expected value after the later passes.
  for (const auto& o : outputs) EXPECT_EQ(max_diff(o, expected), 0.0);
}

TEST(TensorArena, ABlockStillInUseIsNeverHandedOutAgain) {
  const auto x = torch::randn({64, 48});
  const auto expected_kept = torch::cat({(x * 2 + 1).relu(), x.flip({1})}, 1);
  const auto expected = pass(x);
  {
    core::TensorArenaScope arena("test: kept block");
    pass(x);  // recorded: g is freed after the product
  }
  std::vector<torch::Tensor> kept;
  const auto before = core::tensor_arena_stats();
  torch::Tensor out;
  {
    core::TensorArenaScope arena("test: kept block");
    out = pass(x, &kept);  // g outlives its planned lifetime: the blocks planned over it must not be its bytes
  }
  EXPECT_EQ(max_diff(kept[0], expected_kept), 0.0);
  EXPECT_EQ(max_diff(out, expected), 0.0);
  EXPECT_EQ(core::tensor_arena_stats().departed - before.departed, 1u);
}

TEST(TensorArena, AnotherShapeUnderTheSameKeyIsPlannedAgain) {
  const auto small = torch::randn({32, 16}), large = torch::randn({96, 80});
  const auto expected_small = pass(small), expected_large = pass(large);
  for (int i = 0; i < 3; ++i) {
    for (const auto* x : {&small, &large}) {
      core::TensorArenaScope arena("test: shapes");
      EXPECT_EQ(max_diff(pass(*x), x == &small ? expected_small : expected_large), 0.0);
    }
  }
  EXPECT_GE(core::tensor_arena_stats().departed, 1u);
}

TEST(TensorArena, EachThreadHasItsOwnArena) {
  const auto x = torch::randn({64, 48});
  const auto expected = pass(x);
  std::vector<std::thread> threads;
  std::vector<double> diffs(2, -1);
  std::vector<core::TensorArenaStats> stats(2);
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      double worst = 0;
      for (int i = 0; i < 20; ++i) {
        core::TensorArenaScope arena("test: threads");
        worst = std::max(worst, max_diff(pass(x), expected));
      }
      diffs[t] = worst;
      stats[t] = core::tensor_arena_stats();
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(diffs[t], 0.0);
    EXPECT_EQ(stats[t].recorded, 1u);
    EXPECT_EQ(stats[t].planned, 19u);
  }
}

// Every family on the fast path, at two input sizes in turn: the arena's outputs equal the plain
// ones (both after the first, recorded pass of each size).
TEST(TensorArena, EveryModelFamilyGivesThePlainOutputsAtSeveralSizes) {
  struct Family {
    const char* arch;
    const char* encoder;
    int64_t depth;
  };
  const std::vector<Family> families = {
      {"unet", "resnet18", 5},          {"unetplusplus", "resnet18", 5}, {"attention_unet", "resnet18", 5},
      {"attention_unet", "none", 3},    {"fcdensenet", "fcdensenet57", 5}, {"classifier", "resnet18", 5},
      {"classifier", "efficientnet_b0", 5},
  };
  c10::InferenceMode guard;
  for (const auto& f : families) {
    models::ModelSpec spec;
    spec.arch = f.arch;
    spec.encoder = f.encoder;
    spec.encoder_depth = f.depth;
    torch::manual_seed(3);
    auto model = models::build_model(spec);
    models::prepare_for_inference(*model, /*channels_last=*/true);
    const std::string name = std::string(f.arch) + "/" + f.encoder;
    for (const int64_t size : {64, 96}) {
      const auto x = torch::randn({1, 3, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
      const auto plain = model->forward(x);
      const auto before = core::tensor_arena_stats();
      for (int i = 0; i < 3; ++i) {
        core::TensorArenaScope arena(name + " " + std::to_string(size));
        EXPECT_LE(max_diff(model->forward(x), plain), 1e-4) << name << " at " << size << ", pass " << i;
      }
      const auto after = core::tensor_arena_stats();
      EXPECT_EQ(after.planned - before.planned, 2u) << name << " at " << size;
    }
  }
}

// Stochastic weight averaging (src/ptx/train/swa): the equal average of known parameter values,
// copying it into a model, resumable state, and batch-norm statistics recomputed from batches.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ptx/core/error.h"
#include "ptx/models/registry.h"
#include "ptx/train/swa.h"
#include "test_support.h"

using namespace ptx;
using namespace ptx::train;

namespace {

void set_all(torch::nn::Module& m, double value) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.fill_(value);
}

}  // namespace

TEST(Swa, AveragesParametersEqually) {
  torch::nn::Linear model(2, 1);
  SwaAverage swa(*model);
  EXPECT_NE(test::error_of([&] { swa.copy_to(*model); }), "");  // nothing averaged yet
  // Three snapshots with every parameter at 1, 2 and 6: the average is (1 + 2 + 6) / 3 = 3.
  for (double v : {1.0, 2.0, 6.0}) {
    set_all(*model, v);
    swa.update(*model);
  }
  EXPECT_EQ(swa.count(), 3);
  EXPECT_TRUE(torch::allclose(swa.average("weight"), torch::full({1, 2}, 3.0)));
  EXPECT_TRUE(torch::allclose(swa.average("bias"), torch::full({1}, 3.0)));
  // The running average is exact for distinct values per element too: (0 + 4) / 2, (1 + 5) / 2.
  torch::nn::Linear other(2, 1);
  SwaAverage two(*other);
  {
    torch::NoGradGuard no_grad;
    other->weight.copy_(torch::tensor({{0.0f, 1.0f}}));
    two.update(*other);
    other->weight.copy_(torch::tensor({{4.0f, 5.0f}}));
    two.update(*other);
  }
  EXPECT_TRUE(torch::allclose(two.average("weight"), torch::tensor({{2.0f, 3.0f}})));

  // copy_to writes the average into a model; the averaged copies do not alias the model.
  set_all(*model, -1.0);
  EXPECT_TRUE(torch::allclose(swa.average("weight"), torch::full({1, 2}, 3.0)));
  swa.copy_to(*model);
  EXPECT_TRUE(torch::allclose(model->weight, torch::full({1, 2}, 3.0)));
  EXPECT_TRUE(torch::allclose(model->bias, torch::full({1}, 3.0)));
  // A model of another shape is refused.
  torch::nn::Linear wrong(3, 1);
  EXPECT_NE(test::error_of([&] { swa.copy_to(*wrong); }).find("weight"), std::string::npos);
}

TEST(Swa, StateResumesTheAverage) {
  torch::nn::Linear model(2, 1);
  SwaAverage first(*model);
  for (double v : {1.0, 2.0}) {
    set_all(*model, v);
    first.update(*model);
  }
  SwaAverage resumed(*model);
  resumed.load_state(first.state());
  set_all(*model, 6.0);
  resumed.update(*model);  // (1 + 2 + 6) / 3
  EXPECT_EQ(resumed.count(), 3);
  EXPECT_TRUE(torch::allclose(resumed.average("weight"), torch::full({1, 2}, 3.0)));
}

TEST(Swa, ScheduleFromTheStartEpoch) {
  const SwaSchedule every2{5, 2};
  EXPECT_FALSE(every2.due(4));
  EXPECT_TRUE(every2.due(5));
  EXPECT_FALSE(every2.due(6));
  EXPECT_TRUE(every2.due(7));
}

TEST(Swa, BatchNormStatisticsAreTheBatchesAverage) {
  torch::manual_seed(3);
  torch::nn::BatchNorm2d bn(2);
  torch::nn::Sequential model(bn);  // nested: found through modules()
  {
    torch::NoGradGuard no_grad;
    bn->running_mean.fill_(7.0);
    bn->running_var.fill_(9.0);
  }
  model->eval();
  // Three batches of 2 x 2 x 3 x 3 with different means and spreads per channel.
  std::vector<torch::Tensor> batches;
  for (int i = 0; i < 3; ++i)
    batches.push_back(torch::randn({2, 2, 3, 3}) * (1.0 + i) +
                      torch::tensor({1.0f * i, -2.0f}).reshape({1, 2, 1, 1}));
  update_batch_norm(*model, batches, [&](const torch::Tensor& x) { model->forward(x); });

  // Momentum None: the cumulative average over the batches of each batch's mean and unbiased
  // variance; with equal batch sizes the mean is the data's mean per channel.
  const auto all = torch::cat(batches);
  const auto mean = all.mean({0, 2, 3});
  torch::Tensor var = torch::zeros({2});
  for (const auto& b : batches) var += b.var({0, 2, 3}, /*unbiased=*/true) / 3.0;
  EXPECT_TRUE(torch::allclose(bn->running_mean, mean, 1e-5, 1e-6)) << bn->running_mean << mean;
  EXPECT_TRUE(torch::allclose(bn->running_var, var, 1e-5, 1e-6)) << bn->running_var << var;
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 3);
  // Momentum and mode are restored.
  ASSERT_TRUE(bn->options.momentum().has_value());
  EXPECT_DOUBLE_EQ(*bn->options.momentum(), 0.1);
  EXPECT_FALSE(model->is_training());

  // A single batch: exactly its statistics.
  update_batch_norm(*model, {batches[1]}, [&](const torch::Tensor& x) { model->forward(x); });
  EXPECT_TRUE(torch::allclose(bn->running_mean, batches[1].mean({0, 2, 3}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->running_var, batches[1].var({0, 2, 3}, true), 1e-5, 1e-6));
}

TEST(Swa, BatchNormRecomputeReachesEveryBatchNormOfAUNet) {
  models::ModelSpec spec;
  spec.encoder = "resnet18";
  const auto model = models::build_model(spec);
  int64_t count = 0;
  {
    torch::NoGradGuard no_grad;
    for (auto& b : model->named_buffers())
      if (b.key().find("running_mean") != std::string::npos) {
        b.value().fill_(7.0);
        ++count;
      }
  }
  ASSERT_GT(count, 20);
  model->eval();
  update_batch_norm(*model, {torch::randn({2, 3, 32, 32})}, [&](const torch::Tensor& x) { model->forward(x); });
  for (const auto& b : model->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos) {
      EXPECT_LT(b.value().abs().max().item<double>(), 7.0) << b.key();
    }
  }
  EXPECT_FALSE(model->is_training());
}

// The training engine (src/ptx/train/trainer, train_config) on a tiny synthetic set: a run's
// files, the same curve twice with the same seed, resume on the same curve, a diverging run.
#include <gtest/gtest.h>

#include <filesystem>

#include "ptx/core/atomic_file.h"
#include "ptx/models/checkpoint.h"
#include "ptx/train/config_file.h"
#include "ptx/train/trainer.h"
#include "test_support.h"
#include "training_fixture.h"

using namespace ptx;
namespace fs = std::filesystem;

namespace {

// U-Net ResNet18 with a narrow decoder at 64 px: about a second per epoch on 2 cores.
train::TrainConfig tiny_config(const std::string& output, const std::vector<std::string>& overrides = {}) {
  YAML::Node node = YAML::Load(R"(
data: {fold: 0, size: 64, channels: 1, normalize: none, workers: 2}
model: {arch: unet, encoder: resnet18, decoder_channels: [32, 16, 16, 8, 8]}
sampler: {mode: sliding, rate: 0.6}
augment: [{type: hflip, p: 0.5}, {type: shift_scale_rotate, p: 0.5, rotate: 10}]
loss: {type: combo, weights: {bce: 1, dice: 1}}
optimizer: {type: adam, lr: 1.0e-3}
scheduler: {type: cosine, t_max: 3}
epochs: 2
batch_size: 4
top_k: 1
validation: {triplets: {top: "0.5,0.7", area: "0,20", bottom: "0.3,0.5"}}
seed: 5
)");
  node["data"]["index"] = test::synthetic_training_index();
  node["output"] = output;
  train::apply_overrides(node, overrides);
  return train::parse_train_config(node, ".");
}

train::TrainOptions quiet() {
  train::TrainOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST(TrainConfig, ChecksKeysAndValuesBeforeTraining) {
  const auto err = [](const std::string& yaml) {
    return test::error_of([&] { train::parse_train_config(YAML::Load(yaml), "."); });
  };
  EXPECT_NE(err("data: {index: i.csv}\nepochz: 3").find("unknown key 'epochz'"), std::string::npos);
  EXPECT_NE(err("data: {index: i.csv, sise: 3}").find("data: unknown key 'sise'"), std::string::npos);
  EXPECT_NE(err("data: {index: i.csv, size: 100}").find("data.size: must be a multiple of 32"), std::string::npos);
  EXPECT_NE(err("data: {index: i.csv}\nepochs: many").find("epochs: expected an integer"), std::string::npos);
  EXPECT_NE(err("data: {index: i.csv}\nmodel: {arch: unet, encodr: resnet34}").find("model: model spec: unknown key 'encodr'"),
            std::string::npos);
  EXPECT_NE(err("epochs: 3").find("data: missing"), std::string::npos);
  EXPECT_NE(err("data: {index: i.csv}\nvalidation: {triplets: {top: '2:1:0.1'}}").find("validation.triplets.top"),
            std::string::npos);
  const auto c = train::parse_train_config(YAML::Load("data: {index: sub/i.csv, channels: 1}"), "/cfg");
  EXPECT_EQ(c.data.index, "/cfg/sub/i.csv");  // relative to the configuration's folder
  EXPECT_EQ(c.model.in_channels, 1);          // follows data.channels
}

TEST(Trainer, WritesCheckpointsLogsAndCurves) {
  test::TempDir dir;
  const auto r = train::train_model(tiny_config(dir / "run"), quiet());
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.stop_reason, "epochs");
  for (const char* f : {"last.ckpt", "best.ckpt", "history.csv", "history.json", "curves.png"})
    EXPECT_TRUE(fs::exists(dir / ("run/" + std::string(f)))) << f;
  int epoch_files = 0;
  for (const auto& e : fs::directory_iterator(dir / "run")) epoch_files += e.path().filename().string().rfind("epoch-", 0) == 0;
  EXPECT_EQ(epoch_files, 1);  // top_k 1
  for (const auto& e : r.history) {
    EXPECT_TRUE(std::isfinite(e.train_loss));
    EXPECT_GE(e.score, 0.0);
    EXPECT_LE(e.score, 1.0);
  }
  // best.ckpt rebuilds the model alone, with the input settings predict needs.
  const auto ck = models::load_checkpoint(dir / "run/best.ckpt");
  EXPECT_EQ(ck.spec.encoder, "resnet18");
  ASSERT_TRUE(ck.train_state.has_value());
  EXPECT_EQ(nlohmann::json::parse(ck.train_state->json)["input"]["size"], 64);
  // A second run into the same folder without --resume is refused.
  EXPECT_NE(test::error_of([&] { train::train_model(tiny_config(dir / "run"), quiet()); }).find("--resume"),
            std::string::npos);
}

TEST(Trainer, SameSeedSameCurveAndResumeContinuesIt) {
  test::TempDir dir;
  const auto a = train::train_model(tiny_config(dir / "a"), quiet());
  const auto b = train::train_model(tiny_config(dir / "b"), quiet());
  ASSERT_EQ(a.history.size(), 2u);
  ASSERT_EQ(b.history.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(a.history[i].train_loss, b.history[i].train_loss) << "epoch " << i + 1;
    EXPECT_DOUBLE_EQ(a.history[i].valid_loss, b.history[i].valid_loss) << "epoch " << i + 1;
  }
  // Interrupted after epoch 1, then resumed: the same two epochs.
  train::train_model(tiny_config(dir / "c", {"epochs=1"}), quiet());
  auto o = quiet();
  o.resume = true;
  const auto c = train::train_model(tiny_config(dir / "c"), o);
  ASSERT_EQ(c.history.size(), 2u);
  EXPECT_DOUBLE_EQ(c.history[1].train_loss, a.history[1].train_loss);
  EXPECT_DOUBLE_EQ(c.history[1].valid_loss, a.history[1].valid_loss);
}

TEST(Trainer, Bf16MixedPrecisionTrainsOnTheSameCurveWithinItsRounding) {
  test::TempDir dir;
  const auto fp32 = train::train_model(tiny_config(dir / "fp32", {"epochs=1"}), quiet());
  const auto bf16 = train::train_model(tiny_config(dir / "bf16", {"epochs=1", "precision=bf16"}), quiet());
  const double a = fp32.history[0].train_loss, b = bf16.history[0].train_loss;
  EXPECT_NE(a, b);                          // the forward pass really ran in bfloat16
  EXPECT_NEAR(a, b, 0.05 * a);              // and stayed on fp32's curve
  EXPECT_TRUE(std::isfinite(bf16.history[0].valid_loss));
  EXPECT_NE(test::error_of([&] { tiny_config(dir / "x", {"precision=fp16"}); }).find("precision: must be fp32 or bf16"),
            std::string::npos);
}

TEST(Trainer, Bf16IsRefusedWhereThisLibTorchGetsItsGradientsWrong) {
  // oneDNN's narrow bf16 convolutions at 384 px and more (see check_bf16_gradients): a U-Net
  // whose last decoder block has 8 channels, at 384 px, is refused before its first step.
  test::TempDir dir;
  const std::string err = test::error_of([&] {
    train::train_model(tiny_config(dir / "bad", {"precision=bf16", "data.size=384", "batch_size=2", "data.limit=4"}),
                       quiet());
  });
  if (err.empty()) GTEST_SKIP() << "this LibTorch's bf16 gradients are right at 384 px: nothing to refuse";
  EXPECT_NE(err.find("precision: bf16: this LibTorch computes wrong bf16 gradients for decoder"), std::string::npos) << err;
  EXPECT_NE(err.find("precision: fp32"), std::string::npos);
}

TEST(Trainer, ADivergingRunStopsNamingEpochAndStep) {
  test::TempDir dir;
  const std::string err = test::error_of(
      [&] { train::train_model(tiny_config(dir / "nan", {"optimizer.lr=1.0e+30", "loss={type: bce}"}), quiet()); });
  EXPECT_NE(err.find("epoch 1, step"), std::string::npos) << err;
  EXPECT_NE(err.find("the loss is"), std::string::npos) << err;
}

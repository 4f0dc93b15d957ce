#include "ptx/train/trainer.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "ptx/core/atomic_file.h"
#include "ptx/core/error.h"
#include "ptx/core/log.h"
#include "ptx/core/progress.h"
#include "ptx/data/augment.h"
#include "ptx/data/index_csv.h"
#include "ptx/data/loader.h"
#include "ptx/data/multilabel.h"
#include "ptx/data/sampler.h"
#include "ptx/data/seed.h"
#include "ptx/data/train_dataset.h"
#include "ptx/eval/classification_metrics.h"
#include "ptx/eval/triplet_grid.h"
#include "ptx/io/csv.h"
#include "ptx/models/checkpoint.h"
#include "ptx/models/fold.h"
#include "ptx/models/state_dict_import.h"
#include "ptx/models/weight_file.h"
#include "ptx/train/curves_plot.h"
#include "ptx/train/losses.h"
#include "ptx/train/mixed_precision.h"
#include "ptx/train/optimizers.h"
#include "ptx/train/schedulers.h"
#include "ptx/train/swa.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ptx::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

json to_json(const EpochRecord& r) {
  return json{{"epoch", r.epoch},         {"lr", r.lr},           {"train_loss", r.train_loss},
              {"valid_loss", r.valid_loss}, {"score", r.score},     {"triplet", r.triplet.str()},
              {"metrics", r.metrics},     {"seconds", r.seconds}, {"images_per_s", r.images_per_s}};
}

EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.lr = j.at("lr");
  r.train_loss = j.at("train_loss");
  r.valid_loss = j.at("valid_loss");
  r.score = j.at("score");
  r.triplet = post::Triplet::parse(j.at("triplet").get<std::string>());
  r.metrics = j.at("metrics").get<std::map<std::string, double>>();
  r.seconds = j.at("seconds");
  r.images_per_s = j.at("images_per_s");
  return r;
}

// What validation measured in one epoch.
struct Validation {
  double loss = 0, score = 0;
  post::Triplet triplet;
  std::map<std::string, double> metrics;
};

// The data of one run: the index's folds as datasets.
struct RunData {
  std::unique_ptr<data::TrainDataset> train, valid;
};

RunData load_data(const TrainConfig& c) {
  const auto rows = data::read_index_csv(c.data.index);
  const std::string root = fs::path(c.data.index).parent_path().string();
  auto train_rows = data::fold_rows(rows, c.data.fold, data::Split::train);
  std::vector<data::IndexRow> valid_rows;
  if (c.validate_on_train) valid_rows = train_rows;
  else if (c.data.fold >= 0) valid_rows = data::fold_rows(rows, c.data.fold, data::Split::valid);
  if (c.data.limit > 0) {
    if (train_rows.size() > size_t(c.data.limit)) train_rows.resize(size_t(c.data.limit));
    if (valid_rows.size() > size_t(c.data.limit)) valid_rows.resize(size_t(c.data.limit));
  }
  if (train_rows.empty())
    throw core::Error(c.data.index + ": no labelled rows to train on outside fold " + std::to_string(c.data.fold) +
                      "; check data.fold against the index's fold column");
  data::DatasetOptions o;
  o.size = c.data.size;
  o.channels = c.data.channels;
  o.normalize = data::parse_normalization(c.data.normalize, "data.normalize");
  o.masks = !c.classifier();
  RunData d;
  d.train = std::make_unique<data::TrainDataset>(root, std::move(train_rows), o);
  d.valid = std::make_unique<data::TrainDataset>(root, std::move(valid_rows), o);
  if (!c.data.labels.empty()) {
    const auto table = data::read_multilabel_csv(c.data.labels);
    d.train->set_targets(table);
    d.valid->set_targets(table);
  }
  auto missing = d.train->check_files();
  const auto more = d.valid->check_files();
  missing.insert(missing.end(), more.begin(), more.end());
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    throw core::Error(c.data.index + ": " + std::to_string(missing.size()) + " image or mask files are missing (" + list +
                      "); re-run ptx convert");
  }
  return d;
}

// Batch-norm layers to eval mode (running statistics, not updated), the rest left as they are.
void freeze_batch_norm(torch::nn::Module& model) {
  for (const auto& m : model.modules(/*include_self=*/false))
    if (m->as<torch::nn::BatchNorm1d>() || m->as<torch::nn::BatchNorm2d>() || m->as<torch::nn::BatchNorm3d>()) m->eval();
}

// The checkpoint's "input" block: what ptx predict needs to feed the model as training did.
json input_json(const TrainConfig& c) {
  return json{{"size", c.data.size}, {"channels", c.data.channels}, {"normalize", c.data.normalize}};
}

class Run {
 public:
  Run(const TrainConfig& c, const TrainOptions& o) : c_(c), o_(o), out_(c.output) {}

  TrainResult go() {
    const auto started = Clock::now();
    data_ = load_data(c_);
    build();
    int first_epoch = 0;
    if (o_.resume) first_epoch = resume();
    else if (is_main() && fs::exists(out_ / "last.ckpt"))
      throw core::Error(out_.string() + " already holds a run (last.ckpt): pass --resume to continue it, or choose another output");
    if (is_main()) fs::create_directories(out_);
    // Every rank starts from rank 0's weights (its pretrained or chained start, its resumed state).
    dist().broadcast_model(*model_);
    if (is_main())
      core::info("training " + c_.model.arch + "/" + c_.model.encoder + " on " + std::to_string(data_.train->size()) +
                 " images" +
                 (dist().distributed() ? " (" + std::to_string(dist().world()) + " processes, batch " +
                                             std::to_string(c_.batch_size) + " each)"
                                       : "") +
                 ", validating on " + std::to_string(data_.valid->size()) + "; output " + out_.string());

    double last_epoch_seconds = 0;
    result_.stop_reason = "epochs";
    for (int e = first_epoch; e < c_.epochs; ++e) {
      bool out_of_time = c_.minutes > 0 && seconds_since(started) + last_epoch_seconds > c_.minutes * 60;
      if (c_.minutes > 0) out_of_time = dist().broadcast_flag(out_of_time);  // rank 0's clock decides
      if (out_of_time) {
        result_.stop_reason = "time budget";
        break;
      }
      const auto t0 = Clock::now();
      EpochRecord r = train_epoch(e);
      // Batch-norm running statistics: rank 0's everywhere (as DDP's broadcast_buffers).
      dist().broadcast_buffers(*model_);
      // Rank 0 validates; the others take its loss and score (the schedule and early stopping
      // then decide alike on every rank).
      Validation v;
      if (is_main()) v = validate();
      if (dist().distributed()) {
        const auto got = dist().broadcast({v.loss, v.score});
        v.loss = got[0];
        v.score = got[1];
      }
      r.valid_loss = v.loss;
      r.score = has_validation() ? v.score : -r.train_loss;
      r.triplet = v.triplet;
      r.metrics = v.metrics;
      r.seconds = seconds_since(t0);
      last_epoch_seconds = r.seconds;
      scheduler_->step(e, r.score);
      if (swa_ && swa_when_.due(e)) swa_->update(*model_);
      result_.history.push_back(r);
      save_epoch(e, r);
      if (is_main()) {
        write_logs();
        report(r);
      }
      if (c_.patience > 0 && r.epoch - result_.best_epoch >= c_.patience) {
        result_.stop_reason = "early stopping";
        break;
      }
    }
    if (const char* path = std::getenv("PTX_DEBUG_WEIGHTS_OUT"); path && *path)
      models::save_checkpoint(path, models::make_checkpoint(*model_, spec_));
    if (is_main() && swa_ && swa_->count() > 0) finish_swa();
    result_.last_checkpoint = (out_ / "last.ckpt").string();
    dist().barrier();  // the other ranks return once rank 0's files are written
    return result_;
  }

 private:
  bool has_validation() const { return data_.valid->size() > 0; }
  DistributedContext& dist() { return o_.distributed ? *o_.distributed : single_; }
  bool is_main() const { return !o_.distributed || o_.distributed->is_main(); }

  void build() {
    torch::manual_seed(c_.seed);
    spec_ = c_.model;
    if (!data_.train->classes().empty()) {
      if (c_.model.classes != 1 && c_.model.classes != int64_t(data_.train->classes().size()))
        throw core::Error("model.classes: " + std::to_string(c_.model.classes) + " but data.labels has " +
                          std::to_string(data_.train->classes().size()) + " classes");
      spec_.classes = int64_t(data_.train->classes().size());
    }
    if (!c_.classifier() && spec_.classes != 1)
      throw core::Error("model.classes: segmentation trains one class (pneumothorax), got " + std::to_string(spec_.classes));
    model_ = models::build_model(spec_);
    // Only rank 0 reads the starting weights: broadcast_model gives them to the others.
    if (is_main() && !o_.resume && !c_.pretrained.empty()) {
      const auto file = models::read_weights(c_.pretrained);
      core::info("pretrained: " + models::import_weights(*model_, spec_, file.tensors).describe());
    }
    if (is_main() && !o_.resume && !o_.init_checkpoint.empty()) {
      const auto ck = models::load_checkpoint(o_.init_checkpoint);
      models::load_named_tensors(*model_, ck.state_dict);
      core::info("starting from " + o_.init_checkpoint);
    }
    model_->to(o_.device);
    // Channels-last weights and inputs: oneDNN's 3x3 convolutions, forward and backward, run
    // faster in NHWC (checkpoints are written contiguous, as PyTorch writes them).
    models::to_channels_last(*model_);
    optimizer_ = make_optimizer(c_.optimizer.get<OptimizerConfig>(), *model_);
    scheduler_ = make_scheduler(c_.scheduler, optimizer_->config().lr);
    loss_ = make_loss(c_.loss);
    auto sampler_options = data::sampler_options_from_yaml(c_.sampler, "sampler");
    if (!c_.sampler || !c_.sampler["seed"]) sampler_options.seed = c_.seed;
    sampler_ = std::make_unique<data::Sampler>(data_.train->labels(), sampler_options);
    augment_ = data::Pipeline::from_yaml(c_.augment, "augment", c_.seed);
    if (c_.swa_start >= 0) {
      swa_ = std::make_unique<SwaAverage>(*model_);
      swa_when_ = SwaSchedule{c_.swa_start, c_.swa_every};
    }
  }

  // Restores model, optimiser, schedule, SWA average, history and checkpoint ranks from last.ckpt;
  // returns the epoch to continue with.
  int resume() {
    const fs::path last = out_ / "last.ckpt";
    if (!fs::exists(last))
      throw core::Error(last.string() + ": nothing to resume; run without --resume to start" +
                        (dist().distributed() ? std::string(" (with --distributed every rank reads it: put the output "
                                                            "folder on a file system all ranks share)")
                                              : std::string()));
    const auto ck = models::load_checkpoint(last.string());
    if (!ck.train_state) throw core::Error(last.string() + ": no training state to resume from");
    models::load_named_tensors(*model_, ck.state_dict);
    const json st = json::parse(ck.train_state->json);
    OptimizerState os{st.at("optimizer"), {}};
    models::NamedTensors swa_tensors;
    for (const auto& [name, t] : ck.train_state->tensors) {
      if (name.rfind("optimizer/", 0) == 0) os.tensors[name.substr(10)] = t;
      else if (name.rfind("swa/", 0) == 0) swa_tensors[name.substr(4)] = t;
    }
    optimizer_->load_state(os);
    scheduler_->load_state(st.at("scheduler"));
    if (swa_ && st.contains("swa_count") && st["swa_count"].get<int64_t>() > 0)
      swa_->load_state(SwaState{swa_tensors, st["swa_count"].get<int64_t>()});
    for (const auto& r : st.at("history")) result_.history.push_back(record_from_json(r));
    for (const auto& t : st.at("top")) top_.push_back({t.at("epoch"), t.at("score")});
    result_.best_epoch = st.at("best_epoch");
    result_.best_score = st.at("best_score");
    result_.best_triplet = post::Triplet::parse(st.at("best_triplet").get<std::string>());
    if (result_.best_epoch > 0) result_.best_checkpoint = (out_ / "best.ckpt").string();
    const int epoch = st.at("epoch");
    if (is_main()) core::info("resuming " + out_.string() + " after epoch " + std::to_string(epoch));
    return epoch;
  }

  EpochRecord train_epoch(int e) {
    // Everything random in epoch e derives from (seed, e): a resumed run continues the same curve.
    // (Other ranks than 0 draw their own dropout masks.)
    const uint64_t epoch_seed = data::derive_seed(c_.seed, uint64_t(e));
    torch::manual_seed(dist().rank() == 0 ? epoch_seed : data::derive_seed(epoch_seed, uint64_t(dist().rank())));
    auto order = sampler_->epoch(e);
    data::LoaderOptions lo;
    if (dist().distributed()) {
      // This rank's positions rank, rank + world, ... of the epoch, augmented as those positions
      // are in one process: world ranks with batch B see what one process with batch world x B does.
      order = data::shard(order, dist().rank(), dist().world());
      lo.position_offset = size_t(dist().rank());
      lo.position_stride = size_t(dist().world());
    }
    lo.batch_size = c_.batch_size;
    lo.workers = c_.data.workers;
    lo.drop_last = order.size() > size_t(c_.batch_size);  // batch norm needs more than one sample
    data::Loader loader(*data_.train, order, &augment_, sampler_->epoch_seed(e), lo);
    model_->train();
    if (c_.freeze_batch_norm) freeze_batch_norm(*model_);
    const int64_t batches = int64_t(loader.batches());
    const int64_t steps = (batches + c_.accumulate - 1) / c_.accumulate;
    core::ProgressBar bar("epoch " + std::to_string(e + 1) + "/" + std::to_string(c_.epochs), size_t(batches));
    if (!o_.progress || !is_main()) bar.set_enabled(false);
    EpochRecord r;
    r.epoch = e + 1;
    double loss_sum = 0;
    int64_t images = 0, micro = 0, step = 0;
    const auto t0 = Clock::now();
    optimizer_->zero_grad();
    while (auto batch = loader.next()) {
      if (bf16() && !bf16_checked_) check_bf16_gradients(*batch);
      if (micro % c_.accumulate == 0) scheduler_->apply(*optimizer_, e, step, steps);
      const auto out = run_model(batch->images, bf16());
      auto loss = (*loss_)(out.logits, target_of(*batch));
      if (out.aux_logits.defined())
        loss = loss + c_.aux_weight * aux_loss_(out.aux_logits, (batch->labels > 0).to(torch::kFloat).unsqueeze(1).to(o_.device));
      const double value = loss.item<double>();
      if (!std::isfinite(value))
        throw core::Error("epoch " + std::to_string(e + 1) + ", step " + std::to_string(step + 1) + ": the loss is " +
                          std::to_string(value) + "; training stopped (" + (out_ / "last.ckpt").string() +
                          " holds the last good epoch); lower optimizer.lr or set clip_grad_norm");
      (loss / double(c_.accumulate)).backward();
      if (++micro % c_.accumulate == 0 || micro == batches) {
        dist().all_reduce_gradients(optimizer_->parameters());  // the mean over the ranks (same batch count on each)
        if (c_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(optimizer_->parameters(), c_.clip_grad_norm);
        optimizer_->step();
        optimizer_->zero_grad();
        ++step;
      }
      const int64_t n = batch->images.size(0);
      loss_sum += value * double(n);
      images += n;
      char status[96];
      std::snprintf(status, sizeof(status), "loss %.4f lr %.2e", loss_sum / double(images), optimizer_->lr());
      bar.set_status(status);
      bar.tick();
    }
    bar.finish();
    r.lr = optimizer_->lr();
    const auto totals = dist().all_reduce_sum({loss_sum, double(images)});  // over every rank's images
    r.train_loss = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
    r.images_per_s = totals[1] / std::max(1e-9, seconds_since(t0));
    return r;
  }

  // The gradients of one batch in bf16 against fp32, before the first step of a bf16 run. The
  // oneDNN in Debian's LibTorch 1.13 computes wrong bf16 weight gradients for narrow
  // convolutions (16 or fewer output channels from 32 or fewer) at 384 px and more: values of
  // 1e30 or NaN, which would wreck the run silently. Measured in eval mode, so batch-norm
  // statistics and the random streams are left as they were.
  void check_bf16_gradients(const data::Batch& batch) {
    bf16_checked_ = true;
    const auto gradients = [&](bool bf16) {
      optimizer_->zero_grad();
      (*loss_)(run_model(batch.images, bf16).logits, target_of(batch)).backward();
      std::vector<std::pair<std::string, torch::Tensor>> g;
      for (const auto& p : model_->named_parameters())
        if (p.value().grad().defined()) g.emplace_back(p.key(), p.value().grad().clone());
      return g;
    };
    model_->eval();
    const auto fp32 = gradients(false), bf16 = gradients(true);
    optimizer_->zero_grad();
    model_->train();
    if (c_.freeze_batch_norm) freeze_batch_norm(*model_);
    // Gross errors only: bf16's rounding moves a gradient by about 1 %; the bug by orders of
    // magnitude. The floor keeps near-zero gradients (cancelling sums) from false alarms.
    double largest = 0;
    for (const auto& g : fp32) largest = std::max(largest, g.second.norm().item<double>());
    for (size_t i = 0; i < fp32.size() && i < bf16.size(); ++i) {
      const double reference = fp32[i].second.norm().item<double>();
      const double error = (bf16[i].second - fp32[i].second).norm().item<double>();
      if (!std::isfinite(error) || error > std::max(reference, 1e-3 * largest))
        throw core::Error("precision: bf16: this LibTorch computes wrong bf16 gradients for " + fp32[i].first +
                          " at data.size " + std::to_string(c_.data.size) + " (relative error " +
                          std::to_string(error / std::max(reference, 1e-30)) +
                          "; oneDNN's narrow bf16 convolutions at 384 px and more); train with precision: fp32, "
                          "or at a smaller data.size, or with wider decoder_channels");
    }
  }

  bool bf16() const { return c_.precision == "bf16"; }

  // The model on a batch's images: on the device, channels-last like the weights, in bf16 under
  // autocast when asked; the outputs in fp32, as the losses take them.
  models::ModelOutput run_model(const torch::Tensor& images, bool bf16) {
    models::ModelOutput out;
    {
      const Autocast autocast(o_.device, bf16);
      out = model_->forward_all(images.to(o_.device).contiguous(at::MemoryFormat::ChannelsLast));
    }
    out.logits = out.logits.to(torch::kFloat);
    if (out.aux_logits.defined()) out.aux_logits = out.aux_logits.to(torch::kFloat);
    return out;
  }

  torch::Tensor target_of(const data::Batch& b) const {
    if (!c_.classifier()) return b.masks.to(o_.device);
    if (b.targets.defined()) return b.targets.to(o_.device);
    return (b.labels > 0).to(torch::kFloat).unsqueeze(1).to(o_.device);
  }

  Validation validate() {
    Validation v;
    if (!has_validation()) return v;
    model_->eval();
    torch::NoGradGuard no_grad;
    data::LoaderOptions lo;
    lo.batch_size = c_.batch_size;
    lo.workers = c_.data.workers;
    data::Loader loader(*data_.valid, data::all_indices(*data_.valid), nullptr, 0, lo);
    std::optional<eval::TripletGridScorer> scorer;
    if (!c_.classifier()) scorer.emplace(c_.triplets);
    std::vector<std::vector<float>> scores, labels;  // classifier: per class
    double loss_sum = 0;
    int64_t images = 0;
    while (auto b = loader.next()) {
      const auto logits = run_model(b->images, bf16()).logits;
      const auto target = target_of(*b);
      const int64_t n = logits.size(0);
      loss_sum += (*loss_)(logits, target).item<double>() * double(n);
      images += n;
      const auto p = torch::sigmoid(logits).to(torch::kCPU).contiguous();
      if (scorer) {
        const auto masks = b->masks.contiguous();
        const int h = int(p.size(2)), w = int(p.size(3));
        for (int64_t i = 0; i < n; ++i) {
          const cv::Mat prob(h, w, CV_32F, p[i][0].data_ptr<float>());
          cv::Mat truth;
          cv::Mat(h, w, CV_32F, masks[i][0].data_ptr<float>()).convertTo(truth, CV_8U, 255.0);
          scorer->add(prob, truth);
        }
      } else {
        const auto t = target.to(torch::kCPU).contiguous();
        scores.resize(size_t(p.size(1)));
        labels.resize(size_t(p.size(1)));
        for (int64_t i = 0; i < n; ++i)
          for (int64_t k = 0; k < p.size(1); ++k) {
            scores[size_t(k)].push_back(p[i][k].item<float>());
            labels[size_t(k)].push_back(t[i][k].item<float>());
          }
      }
    }
    v.loss = images ? loss_sum / double(images) : 0.0;
    if (scorer) {
      const auto s = scorer->summaries();
      const size_t best = scorer->best_index();
      v.score = s[best].dice;
      v.triplet = c_.triplets.at(best);
      v.metrics = {{"dice_on_positives", s[best].dice_on_positives},
                   {"true_positives", double(s[best].true_positives)},
                   {"false_positives", double(s[best].false_positives)},
                   {"true_negatives", double(s[best].true_negatives)},
                   {"false_negatives", double(s[best].false_negatives)}};
      return v;
    }
    double auc_sum = 0;
    int aucs = 0;
    const auto& classes = data_.valid->classes();
    for (size_t k = 0; k < scores.size(); ++k) {
      const auto auc = eval::roc_auc(scores[k], labels[k]);
      const std::string name = classes.empty() ? "pneumothorax" : classes[k];
      if (auc) {
        v.metrics["auc_" + name] = *auc;
        auc_sum += *auc;
        ++aucs;
      }
      if (k == 0) {
        const auto counts = eval::count_at(scores[k], labels[k]);
        v.metrics["accuracy"] = counts.accuracy();
        v.metrics["f1"] = counts.f1();
      }
    }
    v.score = aucs ? auc_sum / aucs : v.metrics["accuracy"];
    return v;
  }

  // last.ckpt with the whole state; the top-k epoch checkpoints, best.ckpt and snapshots.
  void save_epoch(int e, const EpochRecord& r) {
    const bool better = result_.best_epoch == 0 || r.score > result_.best_score;
    if (better) {
      result_.best_epoch = r.epoch;
      result_.best_score = r.score;
      result_.best_triplet = r.triplet;
    }
    const bool enters_top = int(top_.size()) < c_.top_k ||
                            std::any_of(top_.begin(), top_.end(), [&](const auto& t) { return r.score > t.second; });
    const std::string epoch_name = "epoch-" + std::to_string(1000 + r.epoch).substr(1) + ".ckpt";
    if (enters_top) {
      top_.push_back({r.epoch, r.score});
      std::stable_sort(top_.begin(), top_.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      if (int(top_.size()) > c_.top_k) {
        if (is_main()) fs::remove(out_ / ("epoch-" + std::to_string(1000 + top_.back().first).substr(1) + ".ckpt"));
        top_.pop_back();
      }
    }
    if (better) result_.best_checkpoint = (out_ / "best.ckpt").string();
    if (!is_main()) return;  // rank 0 alone writes files
    json meta{{"input", input_json(c_)}, {"epoch", r.epoch}, {"score", r.score}, {"triplet", r.triplet.str()}};
    const auto weights_only = models::make_checkpoint(*model_, spec_, models::TrainState{{}, meta.dump()});
    if (enters_top) models::save_checkpoint((out_ / epoch_name).string(), weights_only);
    if (better) {  // the best epoch is always in the top k: best.ckpt is a second name for its file
      const fs::path temp = out_ / "best.ckpt.tmp.link";
      fs::remove(temp);
      fs::create_hard_link(out_ / epoch_name, temp);
      fs::rename(temp, out_ / "best.ckpt");  // atomic, as every checkpoint write
    }
    if (c_.snapshots && scheduler_->cycle_ends(e))
      models::save_checkpoint((out_ / ("snapshot-" + std::to_string(1000 + r.epoch).substr(1) + ".ckpt")).string(), weights_only);

    // The full state last, so that last.ckpt never points past checkpoints that do not exist.
    const auto os = optimizer_->state();
    models::TrainState state;
    for (const auto& [name, t] : os.tensors) state.tensors["optimizer/" + name] = t;
    int64_t swa_count = 0;
    if (swa_ && swa_->count() > 0) {
      const auto ss = swa_->state();
      for (const auto& [name, t] : ss.tensors) state.tensors["swa/" + name] = t;
      swa_count = ss.count;
    }
    json history = json::array(), top = json::array();
    for (const auto& h : result_.history) history.push_back(to_json(h));
    for (const auto& [epoch, score] : top_) top.push_back({{"epoch", epoch}, {"score", score}});
    meta.update(json{{"epoch", e + 1},
                     {"optimizer", os.meta},
                     {"scheduler", scheduler_->state()},
                     {"swa_count", swa_count},
                     {"history", history},
                     {"top", top},
                     {"best_epoch", result_.best_epoch},
                     {"best_score", result_.best_score},
                     {"best_triplet", result_.best_triplet.str()}});
    state.json = meta.dump();
    models::save_checkpoint((out_ / "last.ckpt").string(), models::make_checkpoint(*model_, spec_, state));
  }

  void write_logs() const {
    io::CsvWriter csv((out_ / "history.csv").string(),
                      {"epoch", "lr", "train_loss", "valid_loss", "score", "triplet", "seconds", "images_per_s"});
    json all = json::array();
    std::vector<double> train_loss, valid_loss, score;
    for (const auto& r : result_.history) {
      char buf[6][32];
      std::snprintf(buf[0], 32, "%.3e", r.lr);
      std::snprintf(buf[1], 32, "%.6f", r.train_loss);
      std::snprintf(buf[2], 32, "%.6f", r.valid_loss);
      std::snprintf(buf[3], 32, "%.6f", r.score);
      std::snprintf(buf[4], 32, "%.1f", r.seconds);
      std::snprintf(buf[5], 32, "%.2f", r.images_per_s);
      csv.row({std::to_string(r.epoch), buf[0], buf[1], buf[2], buf[3], r.triplet.str(), buf[4], buf[5]});
      all.push_back(to_json(r));
      train_loss.push_back(r.train_loss);
      valid_loss.push_back(has_validation() ? r.valid_loss : NAN);
      score.push_back(r.score);
    }
    csv.commit();
    core::write_file_atomic(out_ / "history.json", all.dump(2) + "\n");
    const cv::Mat plot = plot_curves({{"train", train_loss, {200, 120, 40}}, {"valid", valid_loss, {40, 120, 220}}}, "loss",
                                     {{c_.classifier() ? "AUC" : "Dice", score, {60, 160, 60}}},
                                     c_.classifier() ? "validation AUC" : "validation Dice (best triplet)");
    std::vector<uchar> png;
    cv::imencode(".png", plot, png);
    core::write_file_atomic(out_ / "curves.png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  }

  void report(const EpochRecord& r) const {
    char line[256];
    if (!has_validation())
      std::snprintf(line, sizeof(line), "epoch %d: train loss %.4f (no validation), %.1f s", r.epoch, r.train_loss, r.seconds);
    else if (c_.classifier())
      std::snprintf(line, sizeof(line), "epoch %d: train loss %.4f, valid loss %.4f, AUC %.4f, %.1f s", r.epoch,
                    r.train_loss, r.valid_loss, r.score, r.seconds);
    else
      std::snprintf(line, sizeof(line), "epoch %d: train loss %.4f, valid loss %.4f, Dice %.4f at %s, %.1f s", r.epoch,
                    r.train_loss, r.valid_loss, r.score, r.triplet.str().c_str(), r.seconds);
    core::info(line);
  }

  // The averaged weights, batch-norm statistics recomputed over the training images (without
  // augmentation), validated and saved as swa.ckpt.
  void finish_swa() {
    swa_->copy_to(*model_);
    data::LoaderOptions lo;
    lo.batch_size = c_.batch_size;
    lo.workers = c_.data.workers;
    update_batch_norm(*model_, [&] {
      data::Loader loader(*data_.train, data::all_indices(*data_.train), nullptr, 0, lo);
      while (auto b = loader.next()) run_model(b->images, /*bf16=*/false);  // statistics in fp32
    });
    const Validation v = validate();
    json meta{{"input", input_json(c_)}, {"score", v.score}, {"triplet", v.triplet.str()}, {"swa_count", swa_->count()}};
    models::save_checkpoint((out_ / "swa.ckpt").string(), models::make_checkpoint(*model_, spec_, models::TrainState{{}, meta.dump()}));
    core::info("SWA of " + std::to_string(swa_->count()) + " epochs: score " + std::to_string(v.score) + " (swa.ckpt)");
  }

  const TrainConfig& c_;
  const TrainOptions& o_;
  DistributedContext single_;  // one process: every collective a no-op
  fs::path out_;
  RunData data_;
  models::ModelSpec spec_;
  models::ModelPtr model_;
  std::unique_ptr<Optimizer> optimizer_;
  SchedulerPtr scheduler_;
  LossPtr loss_;
  BceLoss aux_loss_;
  std::unique_ptr<data::Sampler> sampler_;
  data::Pipeline augment_;
  std::unique_ptr<SwaAverage> swa_;
  SwaSchedule swa_when_;
  std::vector<std::pair<int, double>> top_;  // (epoch, score), best first
  TrainResult result_;
  bool bf16_checked_ = false;
};

}  // namespace

TrainResult train_model(const TrainConfig& config, const TrainOptions& options) { return Run(config, options).go(); }

}  // namespace ptx::train

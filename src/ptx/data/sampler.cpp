#include "ptx/data/sampler.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <iterator>
#include <sstream>

#include "ptx/core/error.h"
#include "ptx/data/seed.h"

namespace ptx::data {

namespace {

void check_rate(double p, const std::string& where) {
  if (!(p > 0 && p <= 1)) {
    std::ostringstream o;
    o << where << ": the positive fraction must be in (0, 1], got " << p;
    throw core::Error(o.str());
  }
}

double yaml_number(const YAML::Node& n, const std::string& path) {
  if (n && n.IsScalar()) {
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
    }
  }
  throw core::Error(path + ": expected a number" + (n && n.IsScalar() ? ", got '" + n.Scalar() + "'" : ""));
}

template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[std::size_t(uniform_int(rng, 0, int64_t(i) - 1))]);
}

}  // namespace

RateSchedule RateSchedule::constant(double p) {
  check_rate(p, "sample rate");
  RateSchedule s;
  s.steps_ = {{0, p}};
  return s;
}

RateSchedule RateSchedule::steps(const std::map<int, double>& steps) {
  if (steps.empty()) throw core::Error("sample rate: a step schedule needs at least one {epoch: p}");
  for (const auto& [e, p] : steps) check_rate(p, "sample rate at epoch " + std::to_string(e));
  RateSchedule s;
  s.steps_ = steps;
  return s;
}

RateSchedule RateSchedule::linear(double p0, double p1, int epochs) {
  check_rate(p0, "sample rate (from)");
  check_rate(p1, "sample rate (to)");
  if (epochs < 1) throw core::Error("sample rate: a linear schedule needs epochs >= 1");
  RateSchedule s;
  s.p0_ = p0;
  s.p1_ = p1;
  s.epochs_ = epochs;
  return s;
}

RateSchedule RateSchedule::from_yaml(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    const double p = yaml_number(node, path);
    check_rate(p, path);
    return constant(p);
  }
  if (!node.IsMap()) throw core::Error(path + ": expected a number, {epoch: p, ...} or {from: p0, to: p1, epochs: n}");
  if (node["from"] || node["to"] || node["epochs"]) {
    for (const auto& kv : node) {
      const std::string k = kv.first.as<std::string>();
      if (k != "from" && k != "to" && k != "epochs")
        throw core::Error(path + "." + k + ": unknown key for a linear schedule; valid keys: from, to, epochs");
    }
    for (const char* k : {"from", "to", "epochs"})
      if (!node[k]) throw core::Error(path + "." + k + ": missing (a linear schedule needs from, to and epochs)");
    const double p0 = yaml_number(node["from"], path + ".from"), p1 = yaml_number(node["to"], path + ".to");
    check_rate(p0, path + ".from");
    check_rate(p1, path + ".to");
    const double epochs = yaml_number(node["epochs"], path + ".epochs");
    if (epochs < 1 || epochs != std::floor(epochs)) throw core::Error(path + ".epochs: must be a whole number >= 1");
    return linear(p0, p1, int(epochs));
  }
  std::map<int, double> steps;
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    int epoch = -1;
    try {
      std::size_t used = 0;
      epoch = std::stoi(k, &used);
      if (used != k.size()) epoch = -1;
    } catch (const std::exception&) {
    }
    if (epoch < 0) throw core::Error(path + "." + k + ": expected an epoch number (>= 0) as key; or use from, to, epochs");
    const double p = yaml_number(kv.second, path + "." + k);
    check_rate(p, path + "." + k);
    steps[epoch] = p;
  }
  return RateSchedule::steps(steps);
}

double RateSchedule::at(int epoch) const {
  if (epochs_ > 0) {
    if (epoch >= epochs_ - 1) return p1_;
    if (epoch <= 0) return p0_;
    return p0_ + (p1_ - p0_) * double(epoch) / double(epochs_ - 1);
  }
  auto it = steps_.upper_bound(epoch);
  if (it == steps_.begin()) return it->second;
  return std::prev(it)->second;
}

SamplerOptions sampler_options_from_yaml(const YAML::Node& node, const std::string& path) {
  SamplerOptions o;
  if (!node || node.IsNull()) return o;
  if (!node.IsMap()) throw core::Error(path + ": expected a map with mode, rate, seed");
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    if (k != "mode" && k != "rate" && k != "seed") throw core::Error(path + "." + k + ": unknown key; valid keys: mode, rate, seed");
  }
  if (const YAML::Node m = node["mode"]) {
    const std::string mode = m.IsScalar() ? m.Scalar() : "";
    if (mode == "shuffle") o.mode = SamplingMode::shuffle;
    else if (mode == "sliding") o.mode = SamplingMode::sliding;
    else if (mode == "positives_only") o.mode = SamplingMode::positives_only;
    else throw core::Error(path + ".mode: got '" + mode + "'; valid choices: shuffle, sliding, positives_only");
  }
  if (const YAML::Node r = node["rate"]) o.rate = RateSchedule::from_yaml(r, path + ".rate");
  if (const YAML::Node s = node["seed"]) {
    try {
      o.seed = s.as<uint64_t>();
    } catch (const YAML::Exception&) {
      throw core::Error(path + ".seed: expected a whole number >= 0");
    }
  }
  return o;
}

Sampler::Sampler(std::vector<int> labels, SamplerOptions options) : options_(std::move(options)) {
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] > 0 ? positives_ : negatives_).push_back(i);
  if (options_.mode != SamplingMode::shuffle && positives_.empty())
    throw core::Error(std::string(options_.mode == SamplingMode::sliding ? "sliding" : "positives_only") +
                      " sampler: the training set has no positive samples; use mode shuffle");
  if (options_.mode == SamplingMode::shuffle && labels.empty()) throw core::Error("sampler: the training set is empty");
}

uint64_t Sampler::epoch_seed(int e) const { return derive_seed(options_.seed, uint64_t(int64_t(e))); }

std::vector<std::size_t> Sampler::epoch(int e) const {
  std::mt19937_64 rng(derive_seed(epoch_seed(e), 0x5a4d));  // not the augmentation's stream
  std::vector<std::size_t> list;
  switch (options_.mode) {
    case SamplingMode::shuffle:
      list = positives_;
      list.insert(list.end(), negatives_.begin(), negatives_.end());
      break;
    case SamplingMode::positives_only:
      list = positives_;
      break;
    case SamplingMode::sliding: {
      const double p = options_.rate.at(e);
      // Negatives so that positives are a fraction p: P (1 - p) / p, rounded half up (the epsilon
      // keeps 10 * 0.2 / 0.8 = 2.4999... at 3).
      const std::size_t n = std::size_t(std::llround(double(positives_.size()) * (1 - p) / p + 1e-9));
      if (n > 0 && negatives_.empty())
        throw core::Error("sliding sampler: epoch " + std::to_string(e) + " needs negatives but the training set has none");
      list = positives_;
      for (std::size_t i = 0; i < n; ++i) list.push_back(negatives_[std::size_t(uniform_int(rng, 0, int64_t(negatives_.size()) - 1))]);
      break;
    }
  }
  shuffle(list, rng);
  return list;
}

std::vector<std::size_t> Sampler::next() { return epoch(next_epoch_++); }

std::string Sampler::state() const {
  return "ptx-sampler-state 1 " + std::to_string(options_.seed) + " " + std::to_string(next_epoch_);
}

void Sampler::restore(const std::string& state) {
  std::istringstream in(state);
  std::string magic;
  int version = 0, epoch = -1;
  uint64_t seed = 0;
  if (!(in >> magic >> version >> seed >> epoch) || magic != "ptx-sampler-state" || version != 1 || epoch < 0)
    throw core::Error("sampler state: not a saved ptx sampler state");
  options_.seed = seed;
  next_epoch_ = epoch;
}

std::vector<std::size_t> shard(const std::vector<std::size_t>& epoch, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw core::Error("shard: rank " + std::to_string(rank) + " is not in [0, " + std::to_string(world) + ")");
  std::vector<std::size_t> part;
  if (epoch.empty()) return part;
  const std::size_t per = (epoch.size() + std::size_t(world) - 1) / std::size_t(world);
  for (std::size_t k = 0; k < per; ++k) part.push_back(epoch[(k * std::size_t(world) + std::size_t(rank)) % epoch.size()]);
  return part;
}

}  // namespace ptx::data

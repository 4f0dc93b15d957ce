#include "ptx/train/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "ptx/core/error.h"

namespace ptx::train {

namespace {

// The first line of an exception's message (c10's carry a C++ backtrace after it).
std::string first_line(const std::exception& e) {
  std::string s = e.what();
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

int parse_int(const char* name, const std::string& value, int lo, int hi, const std::string& what) {
  try {
    size_t used = 0;
    const long v = std::stol(value, &used);
    if (used == value.size() && v >= lo && v <= hi) return int(v);
  } catch (const std::logic_error&) {
  }
  throw core::Error(std::string(name) + "=" + value + ": expected " + what);
}

bool loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

}  // namespace

DistributedEnv distributed_env(const std::function<const char*(const char*)>& get_fn) {
  const auto get = [&](const char* name) -> std::string {
    const char* v = get_fn ? get_fn(name) : std::getenv(name);
    if (!v || !*v)
      throw core::Error(std::string("--distributed: the environment variable ") + name +
                        " is not set; start every process with RANK (0..WORLD_SIZE-1), WORLD_SIZE, MASTER_ADDR (rank 0's "
                        "address) and MASTER_PORT (a free port on it), as torchrun does");
    return v;
  };
  DistributedEnv env;
  env.world = parse_int("WORLD_SIZE", get("WORLD_SIZE"), 1, 1 << 16, "the number of processes, >= 1");
  env.rank = parse_int("RANK", get("RANK"), 0, env.world - 1,
                       "this process's rank in 0.." + std::to_string(env.world - 1) + " (WORLD_SIZE is " +
                           std::to_string(env.world) + ")");
  env.master_addr = get("MASTER_ADDR");
  env.master_port = parse_int("MASTER_PORT", get("MASTER_PORT"), 1, 65535, "a TCP port in 1..65535");
  return env;
}

struct DistributedContext::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

DistributedContext::DistributedContext() = default;

DistributedContext::~DistributedContext() {
  if (impl_) {
    impl_->group.reset();  // the group before the store it rendezvoused through
    impl_->store.reset();
  }
}

std::unique_ptr<DistributedContext> DistributedContext::connect(const DistributedEnv& env, torch::Device device,
                                                                std::chrono::milliseconds timeout) {
  if (env.world < 1 || env.rank < 0 || env.rank >= env.world)
    throw core::Error("distributed: rank " + std::to_string(env.rank) + " is not in 0.." + std::to_string(env.world - 1));
  std::unique_ptr<DistributedContext> ctx(new DistributedContext());
  ctx->rank_ = env.rank;
  ctx->world_ = env.world;
  ctx->device_ = device;
  if (env.world == 1) return ctx;  // nothing to connect to
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  const std::string seconds = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) + " s";
  ctx->impl_ = std::make_unique<Impl>();
  c10d::TCPStoreOptions so;
  so.port = uint16_t(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = size_t(env.world);
  so.waitWorkers = true;
  so.timeout = timeout;
  try {
    ctx->impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw core::Error("distributed: rank 0 could not serve the store on " + where + " or not all " +
                        std::to_string(env.world) + " ranks joined within " + seconds + " (" + first_line(e) +
                        "); choose a free MASTER_PORT on this machine and start every rank with the same MASTER_ADDR, "
                        "MASTER_PORT and WORLD_SIZE");
    throw core::Error("distributed: rank " + std::to_string(env.rank) + " could not reach rank 0's store at " + where +
                      " within " + seconds + " (" + first_line(e) +
                      "); start rank 0 with the same MASTER_PORT, and check that MASTER_ADDR is rank 0's address, "
                      "reachable from this machine, and that the port is not firewalled");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (loopback(env.master_addr))  // one machine: stay on the loopback interface
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    ctx->impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(ctx->impl_->store, env.rank, env.world, options);
  } catch (const std::exception& e) {
    throw core::Error("distributed: rank " + std::to_string(env.rank) + " could not connect to the other ranks through " +
                      where + " (" + first_line(e) +
                      "); check that every machine can reach the others (set GLOO_SOCKET_IFNAME to the interface to use)");
  }
  return ctx;
}

namespace {

void wait_for(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

}  // namespace

void DistributedContext::bucketed(const std::vector<torch::Tensor>& tensors, bool reduce, const char* what) {
  last_buckets_ = 0;
  if (!distributed() || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  // Buckets hold one dtype on one device: the tensors grouped by those (in order of first
  // appearance, the same on every rank), each group cut into runs of up to bucket_bytes_.
  std::vector<std::vector<size_t>> groups;
  for (size_t k = 0; k < tensors.size(); ++k) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t>& group) {
      const auto& first = tensors[group.front()];
      return first.scalar_type() == tensors[k].scalar_type() && first.device() == tensors[k].device();
    });
    if (g == groups.end()) groups.push_back({k});
    else g->push_back(k);
  }
  for (const auto& group : groups) {
    size_t i = 0;
    while (i < group.size()) {
      size_t j = i, bytes = 0;  // at least one tensor, however large
      while (j < group.size()) {
        const auto& t = tensors[group[j]];
        const size_t b = size_t(t.numel()) * t.element_size();
        if (j > i && bytes + b > bucket_bytes_) break;
        bytes += b;
        ++j;
      }
      std::vector<torch::Tensor> flat_parts;
      for (size_t k = i; k < j; ++k) flat_parts.push_back(tensors[group[k]].reshape({-1}));
      std::vector<torch::Tensor> buffer{torch::cat(flat_parts)};
      try {
        if (reduce) {
          wait_for(impl_->group->allreduce(buffer));
        } else {
          c10d::BroadcastOptions bo;
          bo.rootRank = 0;
          wait_for(impl_->group->broadcast(buffer, bo));
        }
      } catch (const std::exception& e) {
        throw core::Error("distributed: rank " + std::to_string(rank_) + ": " + what + " failed (" + first_line(e) +
                          "); another rank has probably stopped: see its output");
      }
      int64_t offset = 0;
      for (size_t k = i; k < j; ++k) {
        auto& t = tensors[group[k]];
        const int64_t n = t.numel();
        t.copy_(buffer[0].narrow(0, offset, n).view(t.sizes()));
        offset += n;
      }
      ++last_buckets_;
      i = j;
    }
  }
}

void DistributedContext::broadcast_model(torch::nn::Module& model) {
  std::vector<torch::Tensor> tensors;
  for (const auto& p : model.parameters()) tensors.push_back(p);
  for (const auto& b : model.buffers())
    if (b.defined()) tensors.push_back(b);
  bucketed(tensors, false, "broadcasting the model from rank 0");
}

void DistributedContext::broadcast_buffers(torch::nn::Module& model) {
  std::vector<torch::Tensor> tensors;
  for (const auto& b : model.buffers())
    if (b.defined()) tensors.push_back(b);
  bucketed(tensors, false, "broadcasting the batch-norm statistics from rank 0");
}

void DistributedContext::all_reduce_gradients(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    if (g.is_sparse()) throw core::Error("distributed: sparse gradients are not supported");
    grads.push_back(g);
  }
  bucketed(grads, true, "all-reducing the gradients");
  if (!distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.div_(double(world_));  // Gloo has no AVG: the sum, divided
}

std::vector<double> DistributedContext::all_reduce_sum(const std::vector<double>& values) {
  if (!distributed() || values.empty()) return values;
  auto t = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64)).to(device_);
  bucketed({t}, true, "all-reducing the epoch's totals");
  t = t.to(torch::kCPU).contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

std::vector<double> DistributedContext::broadcast(const std::vector<double>& values) {
  if (!distributed() || values.empty()) return values;
  auto t = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64)).to(device_);
  bucketed({t}, false, "receiving rank 0's results");
  t = t.to(torch::kCPU).contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

void DistributedContext::barrier() {
  if (!distributed()) return;
  try {
    wait_for(impl_->group->barrier());
  } catch (const std::exception& e) {
    throw core::Error("distributed: rank " + std::to_string(rank_) + ": waiting for the other ranks failed (" +
                      first_line(e) + "); another rank has probably stopped: see its output");
  }
}

}  // namespace ptx::train

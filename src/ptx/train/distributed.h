// Data-parallel training over several processes (one machine or several), on LibTorch's c10d
// ProcessGroupGloo: what PyTorch's DistributedDataParallel does, done explicitly by the trainer.
//
// The processes are started torchrun-style: each with RANK (0..WORLD_SIZE-1), WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT in its environment. Rank 0 serves a c10d TCPStore on
// MASTER_ADDR:MASTER_PORT; the others connect to it and Gloo builds its full mesh through it.
//
// The trainer (trainer.cpp) then:
//   broadcast_model(model)            after building (and resuming): every rank starts from rank 0's
//                                     parameters and buffers;
//   backward on the rank's own batch (batch norm normalises per rank, as DDP without SyncBN);
//   all_reduce_gradients(params)      before clipping and the optimiser step: the gradients
//                                     averaged over the ranks, in buckets of about 25 MB;
//   all_reduce_sum / broadcast        scalars: the epoch's loss and image count; rank 0's
//                                     validation results and decisions (time budget);
//   broadcast_buffers(model)          after each epoch: rank 0's batch-norm running statistics on
//                                     every rank (what DDP's per-forward broadcast_buffers amounts to:
//                                     rank 0 keeps its own);
//   barrier()                         where ranks wait for rank 0's files.
// A single-process context (the default constructor) is rank 0 of 1 and every operation is a no-op.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ptx::train {

// The torchrun environment of one process.
struct DistributedEnv {
  int rank = 0, world = 1;
  std::string master_addr;
  int master_port = 0;
};

// Reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT through `get` (std::getenv by default). A
// missing or bad variable is a ptx::core::Error naming it and what to set.
DistributedEnv distributed_env(const std::function<const char*(const char*)>& get = {});

class DistributedContext {
 public:
  // One process: rank 0 of 1, no process group.
  DistributedContext();
  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  // Joins the process group of env (rank 0 serves the store and waits for the others). `device`:
  // where the scalar buffers live (the model's device). timeout bounds connecting and every
  // collective operation. Errors (port taken, rank 0 unreachable, a rank missing) are
  // ptx::core::Error naming the address and the fix.
  static std::unique_ptr<DistributedContext> connect(const DistributedEnv& env, torch::Device device = torch::kCPU,
                                                     std::chrono::milliseconds timeout = std::chrono::minutes(30));

  int rank() const { return rank_; }
  int world() const { return world_; }
  bool distributed() const { return world_ > 1; }
  bool is_main() const { return rank_ == 0; }

  // Every parameter and buffer from rank 0 (in place).
  void broadcast_model(torch::nn::Module& model);
  // Every buffer (batch-norm running statistics) from rank 0.
  void broadcast_buffers(torch::nn::Module& model);
  // The gradients of `params` (those defined; the same set on every rank) replaced by their mean
  // over the ranks: flattened into buckets of about bucket_bytes(), each all-reduced at once.
  void all_reduce_gradients(const std::vector<torch::Tensor>& params);
  // Element-wise sums over the ranks.
  std::vector<double> all_reduce_sum(const std::vector<double>& values);
  // Rank 0's values on every rank (the others' `values` only give the count).
  std::vector<double> broadcast(const std::vector<double>& values);
  bool broadcast_flag(bool value) { return broadcast({value ? 1.0 : 0.0})[0] != 0.0; }
  void barrier();

  std::size_t bucket_bytes() const { return bucket_bytes_; }
  void set_bucket_bytes(std::size_t bytes) { bucket_bytes_ = bytes; }
  // How many buckets the last all_reduce_gradients call all-reduced.
  std::size_t last_bucket_count() const { return last_buckets_; }

 private:
  struct Impl;
  // tensors all-reduced (sum) or broadcast from rank 0 in buckets, in place.
  void bucketed(const std::vector<torch::Tensor>& tensors, bool reduce, const char* what);

  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1;
  torch::Device device_ = torch::kCPU;
  std::size_t bucket_bytes_ = std::size_t(25) << 20;
  std::size_t last_buckets_ = 0;
};

}  // namespace ptx::train

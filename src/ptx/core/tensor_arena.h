// A planned arena for the CPU tensors of repeated inference passes.
//
// A forward pass at 1024 px allocates and frees the same feature maps, in the same order, for
// every image. glibc either serves each from a fresh mmap (page faults on every pass: about a
// quarter of the CPU time here) or, told to keep freed memory (core/memory.h), from a heap that
// keeps its high-water mark and fragments (U-Net ResNet34 at 1024 with flip TTA: 2 GiB). The
// arena does what an inference runtime's memory planner does: the first pass under a key records
// every allocation's size and lifetime, the plan packs them into one buffer (two blocks share bytes
// only when their lifetimes do not overlap), and every later pass with the same sequence takes its
// blocks from that buffer: no allocation, no page fault, and memory bounded by the plan.
#pragma once
#include <cstddef>
#include <string>

namespace ptx::core {

// While one is alive, the calling thread's CPU tensors come from its arena, planned under `key`
// (one plan per key, e.g. a model and its input shape; all of a thread's plans share one buffer,
// as big as the largest). Tensors still alive when the scope ends in the recorded pass (the
// outputs) get ordinary blocks in every pass, so they outlive it. A pass that departs from the
// plan (another allocation size), or a block whose bytes are still in use, gets ordinary blocks:
// the arena can make a pass slower, never wrong. A plan departed from is recorded again (up to
// three times per key). Scopes nest (inner ones have no effect). Each thread has its own arena,
// freed when the thread ends. PTX_TENSOR_ARENA=0 in the environment turns every scope off.
class TensorArenaScope {
 public:
  explicit TensorArenaScope(const std::string& key);
  ~TensorArenaScope();
  TensorArenaScope(const TensorArenaScope&) = delete;
  TensorArenaScope& operator=(const TensorArenaScope&) = delete;

 private:
  bool active_ = false;
};

// The calling thread's arena: its buffer and what its passes did.
struct TensorArenaStats {
  std::size_t buffer_bytes = 0;
  std::size_t recorded = 0;  // passes that recorded a plan
  std::size_t planned = 0;   // passes served from a plan to the end
  std::size_t departed = 0;  // passes that left their plan (and took ordinary blocks from there on)
};
TensorArenaStats tensor_arena_stats();

}  // namespace ptx::core

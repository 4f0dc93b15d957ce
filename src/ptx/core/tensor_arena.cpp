#include "ptx/core/tensor_arena.h"

#include <c10/core/Allocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ptx::core {

namespace {

constexpr std::size_t kAlignment = 64;  // c10's own CPU alignment
constexpr std::size_t kOrdinary = std::numeric_limits<std::size_t>::max();  // "not in the buffer", "never freed"
constexpr int kMaxRecordings = 3;

std::size_t aligned(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// One recorded pass: allocation i asked for sizes[i] bytes, made at event born[i], freed at died[i].
struct Recording {
  std::vector<std::size_t> sizes, born, died;
  std::unordered_map<const void*, std::size_t> alive;  // block -> allocation index
  std::size_t clock = 0;
};

// Where each allocation of a pass goes: its offset in the buffer, or kOrdinary.
struct Plan {
  std::vector<std::size_t> sizes, offsets;
  std::size_t bytes = 0;
  int recordings = 0;
  bool stale = false;  // a pass departed from it: record the next one
};

// Greedy by size, as TensorFlow Lite's arena planner: the largest block first, each at the lowest
// offset where it overlaps no placed block alive at the same time. Blocks alive at the end of the
// pass (its outputs) stay ordinary.
void plan_recording(const Recording& r, Plan& plan) {
  const std::size_t n = r.sizes.size();
  plan.sizes = r.sizes;
  plan.offsets.assign(n, kOrdinary);
  plan.bytes = 0;
  plan.stale = false;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < n; ++i)
    if (r.died[i] != kOrdinary) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return r.sizes[a] > r.sizes[b]; });
  std::vector<std::size_t> placed;
  std::vector<std::pair<std::size_t, std::size_t>> taken;  // [offset, end) of placed blocks alive with this one
  for (const std::size_t i : order) {
    taken.clear();
    for (const std::size_t j : placed)
      if (r.born[i] < r.died[j] && r.born[j] < r.died[i])
        taken.emplace_back(plan.offsets[j], plan.offsets[j] + aligned(r.sizes[j]));
    std::sort(taken.begin(), taken.end());
    const std::size_t size = aligned(r.sizes[i]);
    std::size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (begin >= offset + size) break;
      offset = std::max(offset, end);
    }
    plan.offsets[i] = offset;
    plan.bytes = std::max(plan.bytes, offset + size);
    placed.push_back(i);
  }
}

// The recorded pass's blocks are mapped one by one and unmapped when freed, not taken from the heap:
// the heap keeps what it is given back (core/memory.h) and fragments, so a recorded pass on the
// heap would leave up to twice its live memory resident beside the arena.
void* map_block(std::size_t n);
bool unmap_block(void* p);

struct ThreadArena {
  char* buffer = nullptr;
  std::size_t capacity = 0;
  std::map<std::size_t, std::size_t> in_use;  // offset -> end of the buffer's blocks not yet freed
  std::map<std::string, Plan> plans;
  enum class Mode { ordinary, record, replay } mode = Mode::ordinary;
  Plan* plan = nullptr;
  std::size_t next = 0;  // the replayed pass's next allocation
  Recording recording;
  bool orphaned = false;  // its thread has ended while some of its blocks were still in use
  TensorArenaStats stats;

  bool owns(const void* p) const {
    return buffer && p >= buffer && static_cast<const char*>(p) < buffer + capacity;
  }

  void unmap() {
    if (buffer) munmap(buffer, capacity);
    buffer = nullptr;
    capacity = 0;
  }

  // A buffer of at least `bytes`, when none of the old one is in use.
  bool grow(std::size_t bytes) {
    if (!in_use.empty()) return false;
    unmap();
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    // Transparent huge pages where the system allows them (madvise mode here): one page fault per
    // 2 MiB when the buffer is first touched, and fewer TLB misses on every pass.
    madvise(p, bytes, MADV_HUGEPAGE);
    buffer = static_cast<char*>(p);
    capacity = bytes;
    return true;
  }

  void begin(const std::string& key) {
    const auto [it, fresh] = plans.try_emplace(key);
    plan = &it->second;
    next = 0;
    if (fresh || plan->stale) {
      mode = plan->recordings < kMaxRecordings ? Mode::record : Mode::ordinary;
      recording = Recording();
    } else {
      mode = plan->bytes <= capacity || grow(plan->bytes) ? Mode::replay : Mode::ordinary;
    }
  }

  void end() {
    if (mode == Mode::record) {
      plan_recording(recording, *plan);
      ++plan->recordings;
      ++stats.recorded;
      recording = Recording();  // blocks still alive are ordinary: released as such
    } else if (mode == Mode::replay) {
      if (next == plan->sizes.size()) {
        ++stats.planned;
      } else {  // a shorter pass: plan the next one afresh
        plan->stale = true;
        ++stats.departed;
      }
    }
    mode = Mode::ordinary;
    plan = nullptr;
  }

  void depart() {
    mode = Mode::ordinary;
    plan->stale = true;
    ++stats.departed;
  }

  void* take(std::size_t n) {
    if (mode == Mode::record) {
      void* p = map_block(n);
      recording.alive[p] = recording.sizes.size();
      recording.sizes.push_back(n);
      recording.born.push_back(recording.clock++);
      recording.died.push_back(kOrdinary);
      return p;
    }
    if (mode == Mode::replay) {
      if (next < plan->sizes.size() && plan->sizes[next] == n) {
        const std::size_t offset = plan->offsets[next++];
        if (offset == kOrdinary) return c10::alloc_cpu(n);
        // The plan assumed these bytes free by now; a block whose tensor lives longer than it did
        // in the recorded pass would be overwritten, so check.
        const std::size_t end = offset + aligned(n);
        const auto after = in_use.lower_bound(end);
        if (after == in_use.begin() || std::prev(after)->second <= offset) {
          in_use.emplace(offset, end);
          return buffer + offset;
        }
      }
      depart();
    }
    return c10::alloc_cpu(n);
  }
};

// Blocks are freed on any thread (a tensor outlives its scope, or is handed to another thread):
// one lock for all arenas. Leaked on purpose: tensors are still freed while statics are destroyed.
std::mutex& arenas_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::vector<ThreadArena*>& arenas() {
  static auto* v = new std::vector<ThreadArena*>;
  return *v;
}
std::unordered_map<void*, std::size_t>& mapped_blocks() {  // block -> its length
  static auto* m = new std::unordered_map<void*, std::size_t>;
  return *m;
}

void* map_block(std::size_t n) {  // with the lock held
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return c10::alloc_cpu(n);  // throws c10's out-of-memory error if this fails too
  mapped_blocks().emplace(p, n);
  return p;
}

bool unmap_block(void* p) {  // with the lock held
  const auto found = mapped_blocks().find(p);
  if (found == mapped_blocks().end()) return false;
  munmap(p, found->second);
  mapped_blocks().erase(found);
  return true;
}

void release(void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lock(arenas_mutex());
    auto& all = arenas();
    for (auto it = all.begin(); it != all.end(); ++it) {
      ThreadArena* a = *it;
      if (a->owns(p)) {
        a->in_use.erase(static_cast<std::size_t>(static_cast<char*>(p) - a->buffer));
        if (a->orphaned && a->in_use.empty()) {
          a->unmap();
          delete a;
          all.erase(it);
        }
        return;
      }
      if (a->mode == ThreadArena::Mode::record) {
        const auto found = a->recording.alive.find(p);
        if (found != a->recording.alive.end()) {
          a->recording.died[found->second] = a->recording.clock++;
          a->recording.alive.erase(found);
          break;
        }
      }
    }
    if (unmap_block(p)) return;
  }
  c10::free_cpu(p);
}

thread_local ThreadArena* t_active = nullptr;  // the calling thread's arena while a scope is open
thread_local int t_depth = 0;

// The thread's arena, made on first use and freed with the thread (later, by the last release,
// if some of its blocks are still in use then).
struct ArenaOwner {
  ThreadArena* arena = nullptr;
  ~ArenaOwner() {
    if (!arena) return;
    std::lock_guard<std::mutex> lock(arenas_mutex());
    if (!arena->in_use.empty()) {
      arena->orphaned = true;
      return;
    }
    auto& all = arenas();
    all.erase(std::find(all.begin(), all.end(), arena));
    arena->unmap();
    delete arena;
  }
};
thread_local ArenaOwner t_owner;

ThreadArena* this_thread_arena() {
  if (!t_owner.arena) {
    t_owner.arena = new ThreadArena;
    std::lock_guard<std::mutex> lock(arenas_mutex());
    arenas().push_back(t_owner.arena);
  }
  return t_owner.arena;
}

// c10's CPU allocator while installed: c10's own blocks outside a scope, the arena's inside.
class ArenaAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    ThreadArena* a = t_active;
    if (!a || n == 0) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, cpu};
    }
    void* p;
    {
      std::lock_guard<std::mutex> lock(arenas_mutex());
      p = a->take(n);
    }
    return {p, p, &release, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

bool arena_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("PTX_TENSOR_ARENA");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

void install_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    static ArenaAllocator allocator;
    // Installed when first needed: tensors made before keep c10's blocks and their own deleter.
    c10::SetAllocator(c10::DeviceType::CPU, &allocator, /*priority=*/1);
  });
}

}  // namespace

TensorArenaScope::TensorArenaScope(const std::string& key) {
  if (t_depth++ > 0 || !arena_enabled()) return;
  install_allocator();
  ThreadArena* a = this_thread_arena();
  {
    std::lock_guard<std::mutex> lock(arenas_mutex());
    a->begin(key);
  }
  t_active = a;
  active_ = true;
}

TensorArenaScope::~TensorArenaScope() {
  --t_depth;
  if (!active_) return;
  {
    std::lock_guard<std::mutex> lock(arenas_mutex());
    t_active->end();
  }
  t_active = nullptr;
}

TensorArenaStats tensor_arena_stats() {
  if (!t_owner.arena) return {};
  std::lock_guard<std::mutex> lock(arenas_mutex());
  TensorArenaStats s = t_owner.arena->stats;
  s.buffer_bytes = t_owner.arena->capacity;
  return s;
}

}  // namespace ptx::core

// The fiber scheduler behind kernels/simt/executor.h. Reading order: stacks, switching,
// the per-block scheduler (run_block, release_waiters), then launch().
#include "kernels/simt/executor.h"

#include <omp.h>
#include <sys/mman.h>

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define GM_SIMT_ASAN 1
#else
#define GM_SIMT_ASAN 0
#endif

namespace gm::simt {

constinit thread_local uint3 threadIdx;
constinit thread_local uint3 blockIdx;
constinit thread_local dim3 blockDim;
constinit thread_local dim3 gridDim;

namespace {

// Boost.Context's two primitives: make_fcontext prepares a stack to start in a function,
// jump_fcontext saves the current registers and continues another context.
namespace fc = boost::context::detail;

// ---- lane order

std::atomic<int>& order_setting() {
  static std::atomic<int> order = [] {
    const char* env = std::getenv("GM_SIMT_ORDER");
    return env && std::string(env) == "reverse" ? 1 : 0;
  }();
  return order;
}

// ---- fiber stacks: mapped once per OS thread and reused, with a guard page below each so an
// overflow faults instead of silently corrupting a neighbour.

constexpr size_t kStackBytes = GM_SIMT_ASAN ? 256 * 1024 : 64 * 1024;  // ASan frames are larger
constexpr size_t kGuardBytes = 4096;

constexpr int64_t kParallelThreads = 32768;  // CUDA threads in a launch worth several OS threads

class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (char* s : free_)
      munmap(s - kGuardBytes, kGuardBytes + kStackBytes);
  }
  char* take() {
    if (!free_.empty()) {
      char* s = free_.back();
      free_.pop_back();
      return s;
    }
    void* m = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    GM_CHECK(m != MAP_FAILED, "simt: cannot map a {} KiB fiber stack", kStackBytes / 1024);
    mprotect(m, kGuardBytes, PROT_NONE);
    return static_cast<char*>(m) + kGuardBytes;
  }
  // `abandoned`: the fiber never returned (a launch failed), so ASan's redzones of its frames
  // are still poisoned and would be reported against the stack's next user.
  void give_back(char* s, [[maybe_unused]] bool abandoned) {
#if GM_SIMT_ASAN
    if (abandoned) ASAN_UNPOISON_MEMORY_REGION(s, kStackBytes);
#endif
    free_.push_back(s);
  }

 private:
  std::vector<char*> free_;
};

// ---- the state of one block while it runs

enum class Wait : uint8_t { ready, block_barrier, warp_barrier, done };

struct Thread {
  uint3 index;
  int linear = 0;  // x + y * bx + z * bx * by: lane = linear % 32, warp = linear / 32
  Wait wait = Wait::ready;
  std::source_location where;  // the barrier it waits at
  unsigned mask = 0;           // lanes taking part in its warp barrier
  fc::fcontext_t context = nullptr;
  char* stack = nullptr;
};

struct Block {
  const LaunchConfig* config = nullptr;
  ThreadBody body = nullptr;
  const void* args = nullptr;
  std::vector<Thread> threads;
  std::vector<uint64_t> warp_slots;       // 32 per warp, for warp_exchange
  std::vector<unsigned char> warp_blobs;  // kMaxGatherBytes per thread, for warp_gather
  std::unique_ptr<unsigned char[]> shared;
  Thread* running = nullptr;
  fc::fcontext_t scheduler = nullptr;
  std::exception_ptr error;
  const void* scheduler_stack = nullptr;  // for ASan's fiber annotations
  size_t scheduler_stack_size = 0;
};

thread_local StackPool stack_pool;
thread_local Block* current_block = nullptr;

std::string site(const std::source_location& w) {
  return fmt::format("{}:{}:{}", w.file_name(), w.line(), w.column());
}
bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}
std::string thread_name(const Thread& t) {
  return fmt::format("thread ({},{},{})", t.index.x, t.index.y, t.index.z);
}
[[noreturn]] void divergence(const Block& b, const std::string& what) {
  fail("kernel {}: barrier divergence in block ({},{},{}): {}", b.config->kernel, blockIdx.x,
       blockIdx.y, blockIdx.z, what);
}
std::string state(const Thread& t) {
  switch (t.wait) {
    case Wait::ready:
      return "is running";
    case Wait::block_barrier:
      return "waits at __syncthreads() at " + site(t.where);
    case Wait::warp_barrier:
      return fmt::format("waits at a warp operation (mask {:#x}) at {}", t.mask, site(t.where));
    case Wait::done:
      return "has returned";
  }
  return "?";
}

// ---- switching between the scheduler (the OS thread's own stack) and a fiber

void resume(Block& b, Thread& t) {
  b.running = &t;
  threadIdx = t.index;
#if GM_SIMT_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, t.stack, kStackBytes);
#endif
  fc::transfer_t back = fc::jump_fcontext(t.context, &b);
#if GM_SIMT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  t.context = back.fctx;
  b.running = nullptr;
}

// From inside a fiber: back to the scheduler until it resumes us (never, when `finished`).
void suspend(Block& b, [[maybe_unused]] bool finished) {
#if GM_SIMT_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, b.scheduler_stack,
                                 b.scheduler_stack_size);
#endif
  fc::transfer_t from = fc::jump_fcontext(b.scheduler, nullptr);
  b.scheduler = from.fctx;
#if GM_SIMT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
}

void fiber_main(fc::transfer_t from) {
  Block& b = *static_cast<Block*>(from.data);
  b.scheduler = from.fctx;
#if GM_SIMT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
#endif
  Thread& self = *b.running;
  try {
    b.body(b.args);
  } catch (...) {
    if (!b.error) b.error = std::current_exception();
  }
  self.wait = Wait::done;
  suspend(b, /*finished=*/true);
}

Block& running_block(const char* what) {
  Block* b = current_block;
  if (!b || !b->running) fail("{} called outside a kernel launched by the simt executor", what);
  return *b;
}

// Called when no fiber can run. Releases one warp per warp whose lanes all wait at the same
// warp operation; failing that, the whole block if every live thread waits at the same
// __syncthreads. Anything else can never make progress on a GPU either: it is reported.
void release_waiters(Block& b) {
  const int n = static_cast<int>(b.threads.size());
  bool released = false;
  for (int base = 0; base < n; base += warpSize) {
    const Thread* first = nullptr;
    for (int l = base; l < base + warpSize && l < n; ++l)
      if (b.threads[l].wait == Wait::warp_barrier) {
        first = &b.threads[l];
        break;
      }
    if (!first) continue;
    for (int lane = 0; lane < warpSize; ++lane) {
      const bool named = (first->mask >> lane) & 1u;
      if (named && base + lane >= n)
        divergence(b, fmt::format("{} {}, but the mask names lane {} of warp {}, which does not "
                                  "exist in a block of {} threads",
                                  thread_name(*first), state(*first), lane, base / warpSize, n));
      if (base + lane >= n) continue;
      const Thread& t = b.threads[base + lane];
      const bool matches =
          t.wait == Wait::warp_barrier && t.mask == first->mask && same_site(t.where, first->where);
      if (named != matches)
        divergence(b, fmt::format("{} {}, but {} (lane {}) {}", thread_name(*first), state(*first),
                                  thread_name(t), lane, state(t)));
    }
    for (int lane = 0; lane < warpSize; ++lane)
      if ((first->mask >> lane) & 1u) b.threads[base + lane].wait = Wait::ready;
    released = true;
  }
  if (released) return;

  // Every live thread now waits at a __syncthreads().
  const Thread* waiting = nullptr;
  const Thread* returned = nullptr;
  for (const Thread& t : b.threads) {
    if (t.wait == Wait::block_barrier && !waiting) waiting = &t;
    if (t.wait == Wait::done && !returned) returned = &t;
  }
  if (!waiting) return;
  if (returned)
    divergence(b, fmt::format("{} {} while {} {}: every thread of a block must reach each "
                              "__syncthreads()",
                              thread_name(*returned), state(*returned), thread_name(*waiting),
                              state(*waiting)));
  for (const Thread& t : b.threads)
    if (!same_site(t.where, waiting->where))
      divergence(b, fmt::format("{} {} but {} {}", thread_name(*waiting), state(*waiting),
                                thread_name(t), state(t)));
  for (Thread& t : b.threads)
    t.wait = Wait::ready;
}

// Runs every thread of one block to completion on this OS thread.
void run_block(Block& b, uint3 index) {
  const dim3 bd = b.config->block;
  const int n = static_cast<int>(bd.x * bd.y * bd.z);
  blockIdx = index;
  blockDim = bd;
  gridDim = b.config->grid;
  b.threads.assign(static_cast<size_t>(n), Thread{});
  b.warp_slots.assign(static_cast<size_t>((n + warpSize - 1) / warpSize * warpSize), 0);
  b.error = nullptr;
  const size_t shared_bytes = b.config->dynamic_shared_bytes;
  b.shared.reset(shared_bytes ? new unsigned char[shared_bytes] : nullptr);
  if (shared_bytes) std::memset(b.shared.get(), 0xff, shared_bytes);

  // Stacks go back to the pool however this function ends.
  struct StackReturn {
    Block& b;
    ~StackReturn() {
      for (Thread& t : b.threads)
        if (t.stack) stack_pool.give_back(t.stack, t.wait != Wait::done);
      current_block = nullptr;
    }
  } stack_return{b};
  for (int i = 0; i < n; ++i) {
    Thread& t = b.threads[static_cast<size_t>(i)];
    const unsigned u = static_cast<unsigned>(i);
    t.index = uint3{u % bd.x, u / bd.x % bd.y, u / (bd.x * bd.y)};
    t.linear = i;
    t.stack = stack_pool.take();
    t.context = fc::make_fcontext(t.stack + kStackBytes, kStackBytes, fiber_main);
  }
  current_block = &b;

  const bool reverse = lane_order() == LaneOrder::reverse;
  for (;;) {
    bool live = false;
    for (int k = 0; k < n; ++k) {
      Thread& t = b.threads[static_cast<size_t>(reverse ? n - 1 - k : k)];
      if (t.wait != Wait::ready) continue;
      resume(b, t);
      if (b.error) std::rethrow_exception(b.error);
    }
    for (const Thread& t : b.threads)
      live = live || t.wait != Wait::done;
    if (!live) return;
    release_waiters(b);
  }
}

void check_config(const LaunchConfig& c) {
  const dim3 g = c.grid, bl = c.block;
  const uint64_t threads = uint64_t{bl.x} * bl.y * bl.z;
  const bool ok = bl.x >= 1 && bl.y >= 1 && bl.z >= 1 && bl.x <= 1024 && bl.y <= 1024 &&
                  bl.z <= 64 && threads <= kMaxThreadsPerBlock && g.x >= 1 && g.y >= 1 &&
                  g.z >= 1 && g.x <= 0x7fffffffu && g.y <= 65535 && g.z <= 65535;
  GM_CHECK(ok,
           "kernel {}: invalid launch configuration grid ({},{},{}) block ({},{},{}): a block has "
           "1 to {} threads (x, y <= 1024, z <= 64), grid y and z are at most 65535",
           c.kernel, g.x, g.y, g.z, bl.x, bl.y, bl.z, kMaxThreadsPerBlock);
  GM_CHECK(c.dynamic_shared_bytes <= kMaxDynamicSharedBytes,
           "kernel {}: {} bytes of dynamic shared memory requested, at most {} without opt-in",
           c.kernel, c.dynamic_shared_bytes, kMaxDynamicSharedBytes);
  if (!c.resources) return;
  const KernelResources& r = *c.resources;
  const int max_threads = max_threads_for_registers(r.registers);
  GM_CHECK(threads <= static_cast<uint64_t>(max_threads),
           "kernel {} ({}): too many resources requested for launch "
           "(cudaErrorLaunchOutOfResources on a GPU): a block of {} threads at {} registers per "
           "thread (ptxas, sm_90) needs more than the {} registers a block may have; this kernel "
           "launches with at most {} threads (cudaFuncGetAttributes' maxThreadsPerBlock, which "
           "kernel_threads<> clamps to)",
           c.kernel, r.name, threads, r.registers, kRegistersPerBlock, max_threads);
  GM_CHECK(r.static_shared_bytes + c.dynamic_shared_bytes <= kMaxDynamicSharedBytes,
           "kernel {} ({}): too many resources requested for launch: {} bytes of static and {} "
           "of dynamic shared memory, more than the {} a block may have without opt-in",
           c.kernel, r.name, r.static_shared_bytes, c.dynamic_shared_bytes, kMaxDynamicSharedBytes);
}

}  // namespace

LaneOrder lane_order() {
  return order_setting().load() == 1 ? LaneOrder::reverse : LaneOrder::forward;
}
void set_lane_order(LaneOrder order) {
  order_setting().store(order == LaneOrder::reverse ? 1 : 0);
}

void block_barrier(std::source_location where) {
  Block& b = running_block("__syncthreads()");
  Thread& self = *b.running;
  self.wait = Wait::block_barrier;
  self.where = where;
  suspend(b, false);
}

uint64_t warp_exchange(unsigned mask, uint64_t value, int source_lane, std::source_location where) {
  Block& b = running_block("a warp operation");
  Thread& self = *b.running;
  const int lane = self.linear % warpSize;
  const size_t base = static_cast<size_t>(self.linear - lane);
  if (!((mask >> lane) & 1u))
    fail(
        "kernel {}: {} (lane {}) calls a warp operation at {} with mask {:#x}, which does not "
        "name it",
        b.config->kernel, thread_name(self), lane, site(where), mask);
  if (source_lane < 0 || source_lane >= warpSize || !((mask >> source_lane) & 1u))
    fail("kernel {}: {} reads lane {} at {}, which is not in the mask {:#x}", b.config->kernel,
         thread_name(self), source_lane, site(where), mask);
  b.warp_slots[base + static_cast<size_t>(lane)] = value;
  // Phase 1: every lane has deposited; phase 2: every lane has read, so the slots may be reused.
  for (int phase = 0; phase < 2; ++phase) {
    if (phase == 1) value = b.warp_slots[base + static_cast<size_t>(source_lane)];
    self.wait = Wait::warp_barrier;
    self.mask = mask;
    self.where = where;
    suspend(b, false);
  }
  return value;
}

void warp_gather(unsigned mask, const void* mine, size_t bytes, void* all,
                 std::source_location where) {
  Block& b = running_block("a warp operation");
  Thread& self = *b.running;
  const int lane = self.linear % warpSize;
  const size_t base = static_cast<size_t>(self.linear - lane);
  GM_CHECK(bytes <= kMaxGatherBytes, "warp_gather of {} bytes per lane (at most {})", bytes,
           kMaxGatherBytes);
  if (!((mask >> lane) & 1u))
    fail(
        "kernel {}: {} (lane {}) calls a warp operation at {} with mask {:#x}, which does not "
        "name it",
        b.config->kernel, thread_name(self), lane, site(where), mask);
  // Sized on first use: most kernels never gather. Every slot a reader copies was deposited
  // in this same call (or is outside the mask and zeroed), so stale bytes are never seen.
  const size_t need = b.threads.size() / warpSize * warpSize + warpSize;
  if (b.warp_blobs.size() < need * kMaxGatherBytes) b.warp_blobs.resize(need * kMaxGatherBytes);
  std::memcpy(&b.warp_blobs[(base + static_cast<size_t>(lane)) * kMaxGatherBytes], mine, bytes);
  for (int phase = 0; phase < 2; ++phase) {
    if (phase == 1) {
      auto* out = static_cast<unsigned char*>(all);
      for (int l = 0; l < warpSize; ++l) {
        unsigned char* slot = out + static_cast<size_t>(l) * bytes;
        if ((mask >> l) & 1u)
          std::memcpy(slot, &b.warp_blobs[(base + static_cast<size_t>(l)) * kMaxGatherBytes],
                      bytes);
        else
          std::memset(slot, 0, bytes);
      }
    }
    self.wait = Wait::warp_barrier;
    self.mask = mask;
    self.where = where;
    suspend(b, false);
  }
}

int lane_id() {
  return running_block("lane_id()").running->linear % warpSize;
}

void* dynamic_shared_memory() {
  return running_block("dynamic shared memory").shared.get();
}

void launch(const LaunchConfig& config, ThreadBody body, const void* args) {
  check_config(config);
  GM_CHECK(!current_block, "kernel {}: launched from inside a kernel (not supported)",
           config.kernel);
  const dim3 g = config.grid;
  const int64_t blocks = int64_t{g.x} * g.y * g.z;
  auto block_index = [g](int64_t i) {
    const auto u = static_cast<uint64_t>(i);
    return uint3{static_cast<unsigned>(u % g.x), static_cast<unsigned>(u / g.x % g.y),
                 static_cast<unsigned>(u / (uint64_t{g.x} * g.y))};
  };
  auto run = [&](int64_t i) {
    thread_local Block block;
    block.config = &config;
    block.body = body;
    block.args = args;
    run_block(block, block_index(i));
  };
  // Waking OS threads costs more than running a small grid on this one (much more when the
  // machine is busy), so only large launches are spread out.
  const int64_t threads = blocks * config.block.x * config.block.y * config.block.z;
  if (blocks == 1 || threads < kParallelThreads || omp_in_parallel()) {
    for (int64_t i = 0; i < blocks; ++i)
      run(i);
    return;
  }
  // Blocks are independent: spread them over OS threads. The first error stops the rest.
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const int workers = static_cast<int>(std::min<int64_t>(blocks, omp_get_max_threads()));
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers)
  for (int64_t i = 0; i < blocks; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      run(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace gm::simt

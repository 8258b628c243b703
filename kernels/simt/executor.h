#pragma once
// The SIMT executor: runs a CUDA kernel on the CPU, one fiber per CUDA thread.
//
// A launch is a grid of blocks. Blocks are independent, so they are spread over OS threads
// (OpenMP), one block at a time per OS thread. Inside a block every CUDA thread is a fiber with
// its own stack, and all fibers of the block run on that one OS thread, taking turns:
//   - a fiber runs until it reaches a scheduling point (`__syncthreads`, a warp shuffle,
//     `__syncwarp`) or returns;
//   - when every fiber of the block is waiting or finished, the scheduler releases whoever can
//     go on: a warp whose lanes all reached the same shuffle, else the whole block if every
//     thread waits at the same `__syncthreads`. Anything else is barrier divergence, reported as
//     a gm::Error naming the kernel, the block, the threads and the source lines.
// Because a block never leaves its OS thread, `__shared__` variables can simply be
// `static thread_local`, and threadIdx etc. are thread_local variables the scheduler sets before
// it resumes a fiber.
//
// Lane order: fibers are resumed in increasing thread index, or in reverse (GM_SIMT_ORDER=reverse
// or set_lane_order). A kernel that reads shared memory written by another thread without a
// barrier in between sees stale data in at least one of the two orders.
#include <cstddef>
#include <cstdint>
#include <source_location>

#include "kernels/simt/kernel_resources.h"

namespace gm::simt {

// CUDA's index types. dim3 defaults unspecified sizes to 1, like CUDA.
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

constexpr int warpSize = 32;
// Limits checked at launch (those of every GPU since sm_70 without opt-in attributes).
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxDynamicSharedBytes = 48 * 1024;

// The CUDA built-in variables, valid inside a running kernel. `constinit` tells every user that
// no dynamic initialisation can exist, so accesses are plain thread-local loads rather than
// calls through an initialisation wrapper (which also trips UBSan's null check in GCC 12).
extern constinit thread_local uint3 threadIdx;
extern constinit thread_local uint3 blockIdx;
extern constinit thread_local dim3 blockDim;
extern constinit thread_local dim3 gridDim;

enum class LaneOrder { forward, reverse };
// Process-wide debugging knob, initialised from GM_SIMT_ORDER ("forward" or "reverse").
LaneOrder lane_order();
void set_lane_order(LaneOrder order);
// Sets the order for the lifetime of the object (tests).
class ScopedLaneOrder {
 public:
  explicit ScopedLaneOrder(LaneOrder order) : previous_(lane_order()) { set_lane_order(order); }
  ~ScopedLaneOrder() { set_lane_order(previous_); }
  ScopedLaneOrder(const ScopedLaneOrder&) = delete;
  ScopedLaneOrder& operator=(const ScopedLaneOrder&) = delete;

 private:
  LaneOrder previous_;
};

struct LaunchConfig {
  const char* kernel = "kernel";  // for error messages
  dim3 grid, block;
  size_t dynamic_shared_bytes = 0;
  // What ptxas gave the kernel (kernel_resources.h), when it is a library kernel: the launch is
  // refused, as on a GPU, when its block needs more registers than a block may have or its
  // shared memory, static and dynamic, exceeds 48 KiB.
  const KernelResources* resources = nullptr;
};

// Runs `body(args)` once per CUDA thread of the grid. Throws gm::Error on an invalid
// configuration (CUDA's fixed limits, and the kernel's resources when known), on barrier
// divergence, or with whatever a kernel thread threw.
using ThreadBody = void (*)(const void* args);
void launch(const LaunchConfig& config, ThreadBody body, const void* args);

// ---- scheduling points, called by the kernel-language functions in simt.h
void block_barrier(std::source_location where);
// Every lane named in `mask` must call this from the same source location. Deposits `value`,
// waits for the others, and returns the value deposited by lane `source_lane`.
uint64_t warp_exchange(unsigned mask, uint64_t value, int source_lane, std::source_location where);
// The warp-wide form for instructions whose result depends on every lane's registers (the
// tensor cores' mma.sync): every lane named in `mask` deposits `bytes` (at most
// kMaxGatherBytes) from `mine`, waits for the others, and gets all 32 deposits in `all`
// (lane l's at l * bytes; lanes outside the mask leave theirs zero). Same rules as
// warp_exchange: every named lane makes the same call.
constexpr size_t kMaxGatherBytes = 64;
void warp_gather(unsigned mask, const void* mine, size_t bytes, void* all,
                 std::source_location where);
int lane_id();  // threadIdx linearised, modulo 32
// The launch's dynamic shared memory; filled with 0xff bytes (NaN as floats) at block start so
// that reading what no thread wrote shows up in results.
void* dynamic_shared_memory();

}  // namespace gm::simt

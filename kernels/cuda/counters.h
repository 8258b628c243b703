#pragma once
// What a CUDA backend asked of the runtime, counted per backend: kernel launches, host
// synchronisations, bytes copied between host and device, allocator hits and misses, graph
// launches. The counts depend only on the work issued, never on timing, so tests assert them
// and `genmodel train --profile` and bench_train_step report them per training step. This
// header compiles under nvcc too (the launch macro of platform.h increments the launch count).
#include <atomic>
#include <cstdint>

namespace gm {

// A snapshot; subtract two to get the counts of what happened in between.
struct CudaCounters {
  uint64_t kernel_launches = 0;  // our kernels plus one per cuBLAS call
  uint64_t host_syncs = 0;       // waits of the host for the device
  uint64_t h2d_bytes = 0;
  uint64_t d2h_bytes = 0;
  uint64_t allocator_hits = 0;    // requests served from the cache
  uint64_t allocator_misses = 0;  // requests that called cudaMalloc
  uint64_t graph_launches = 0;

  friend CudaCounters operator-(const CudaCounters& a, const CudaCounters& b) {
    return {a.kernel_launches - b.kernel_launches,
            a.host_syncs - b.host_syncs,
            a.h2d_bytes - b.h2d_bytes,
            a.d2h_bytes - b.d2h_bytes,
            a.allocator_hits - b.allocator_hits,
            a.allocator_misses - b.allocator_misses,
            a.graph_launches - b.graph_launches};
  }
};

// The live counts of one backend. Atomic because a backend may be driven from several host
// threads (OpenMP regions of the data loader, the distributed reducer); relaxed, because a count
// orders nothing.
class CudaCounterSet {
 public:
  void launch() { kernel_launches_.fetch_add(1, std::memory_order_relaxed); }
  void host_sync() { host_syncs_.fetch_add(1, std::memory_order_relaxed); }
  void to_device(uint64_t bytes) { h2d_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  void to_host(uint64_t bytes) { d2h_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  void allocation(bool hit) {
    (hit ? allocator_hits_ : allocator_misses_).fetch_add(1, std::memory_order_relaxed);
  }
  void graph_launch() { graph_launches_.fetch_add(1, std::memory_order_relaxed); }

  CudaCounters snapshot() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return {r(kernel_launches_), r(host_syncs_),       r(h2d_bytes_),     r(d2h_bytes_),
            r(allocator_hits_),  r(allocator_misses_), r(graph_launches_)};
  }

 private:
  std::atomic<uint64_t> kernel_launches_{0}, host_syncs_{0}, h2d_bytes_{0}, d2h_bytes_{0},
      allocator_hits_{0}, allocator_misses_{0}, graph_launches_{0};
};

}  // namespace gm

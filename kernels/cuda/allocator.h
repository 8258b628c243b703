#pragma once
// The caching allocator of a CUDA backend. cudaMalloc and cudaFree are slow (they synchronize
// the device), so freed blocks are kept in free lists by size class and handed out again;
// cudaMalloc is called only when no cached block fits (and after an out-of-memory, once more
// with the cache released). One stream per backend keeps reuse safe: a block freed by the
// host is reused by work queued after everything that used it.
//
// Debug mode (GM_CUDA_DEBUG_ALLOC=1, always on for cuda-emu) surrounds every block with
// sentinel bytes and fills fresh and freed memory with 0xff (NaN as floats). Sentinels are
// checked when a block is freed and at every synchronize(); a kernel that wrote out of bounds
// is reported with the buffer's size and where the first overwritten byte lies.
//
// CUDA Graphs: a captured graph replays into the very addresses its capture was given, so the
// blocks allocated during a capture form a private pool: reused only by that capture, returned
// to the pool when freed (even long after), and handed to the shared cache only when the graph
// is gone (release_private_pool). Blocks allocated before a capture and freed during it join
// its pool too (recorded kernels may use them). Pool blocks have no sentinels (writing them is
// device work that a capture may not do); a guarded block freed during a capture is checked
// after it.
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/counters.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

class CachingAllocator final : public ScratchSource {
 public:
  // Counts every request in `counters` as a hit (served from the cache) or a miss (cudaMalloc).
  CachingAllocator(std::string device_name, bool debug, CudaCounterSet& counters);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes) override;
  // Never throws (it runs in destructors): a damaged sentinel is remembered and raised by the
  // next raise_pending().
  void deallocate(void* ptr) noexcept override;
  // Throws if any live block's sentinels are damaged or a freed one was.
  void check();
  void raise_pending();
  void release_cache();
  // Allocations until end_private_pool() come from a new private pool, whose id is returned.
  int begin_private_pool();
  void end_private_pool();
  // The graph that used pool `id` is gone: its blocks become ordinary ones.
  void release_private_pool(int id);
  void set_debug(bool on);
  bool debug() const;
  AllocatorStats stats() const;

  static constexpr size_t kGuardBytes = 256;  // keeps user pointers 256-byte aligned
  static constexpr unsigned char kSentinel = 0xa5;

 private:
  struct Block {
    char* base = nullptr;
    size_t capacity = 0;  // the size class
    size_t bytes = 0;     // what the caller asked for
    bool guarded = false;
    int pool = 0;  // 0: the shared cache
  };
  static size_t size_class(size_t bytes);
  // A block of `capacity` bytes from `cache`, else from cudaMalloc.
  char* take(std::map<size_t, std::vector<char*>>& cache, size_t capacity);
  // Sentinel check and poisoning of a freed guarded block; then it is cached.
  void retire_guarded(const Block& b, void* user);
  std::string damage(const Block& b, void* user) const;  // "" when the sentinels are intact
  void write_sentinels(const Block& b, void* user) const;
  void release_cache_locked();

  std::string device_name_;
  bool debug_;
  CudaCounterSet& counters_;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<char*>> cache_;  // free blocks by size class
  std::unordered_map<void*, Block> live_;       // by the pointer handed out
  // The free blocks of each private pool that a graph still owns, by size class.
  std::map<int, std::map<size_t, std::vector<char*>>> pools_;
  int capturing_pool_ = 0;  // the pool of the capture in progress, or 0
  int next_pool_ = 1;
  std::vector<std::pair<void*, Block>> freed_during_capture_;  // guarded ones, checked after
  std::string pending_;
  AllocatorStats stats_;
};

}  // namespace gm::GM_CUDA_NS

#pragma once
// Large host blocks kept for reuse. A training step or a sampling pass allocates the same
// activation sizes again and again; each fresh multi-megabyte block from the C library is a new
// mmap whose pages the kernel faults in and zeroes on first touch (~20 % of a naive PixelCNN
// sampling pass). Freed large blocks therefore go into free lists by size class and are handed
// out again; small ones go straight back to malloc, which already recycles them well.
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gm {

struct HostMemoryStats {
  size_t bytes_in_use = 0;       // handed out now (size classes for cached-size blocks)
  size_t peak_bytes_in_use = 0;  // the high-water mark of bytes_in_use
  size_t bytes_cached = 0;       // freed, kept for reuse
};

class BlockCache {
 public:
  // Blocks from this size up are cached (below it malloc does the job).
  static constexpr size_t kMinCachedBytes = 256 * 1024;
  // Freed blocks beyond this total go back to the system, so a burst of large temporaries does
  // not pin memory for the rest of the process.
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  BlockCache() = default;
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // 64-byte aligned; throws gm::Error when the system has no memory left.
  void* allocate(size_t bytes);
  void deallocate(void* ptr, size_t bytes) noexcept;
  HostMemoryStats stats() const;
  void reset_peak();

  // The size a request of `bytes` occupies: rounded to 64 bytes, and for cached sizes up to
  // the next of 1, 1.25, 1.5, 1.75 times a power of two (at most 25 % slack, few classes).
  static size_t size_class(size_t bytes);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks
  HostMemoryStats stats_;
};

}  // namespace gm

#include "kernels/cpu/block_cache.h"

#include <bit>
#include <cstdlib>

#include "engine/error.h"

namespace gm {

BlockCache::~BlockCache() {
  for (auto& [size, blocks] : free_)
    for (void* p : blocks)
      std::free(p);
}

size_t BlockCache::size_class(size_t bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < kMinCachedBytes) return rounded;
  const size_t power = std::bit_floor(rounded), quarter = power / 4;
  return (rounded + quarter - 1) / quarter * quarter;
}

void* BlockCache::allocate(size_t bytes) {
  const size_t size = size_class(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (size >= kMinCachedBytes) {
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= size;
      }
    }
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use)
      stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  if (p) return p;
  p = std::aligned_alloc(64, size);
  if (!p) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= size;
    throw Error(fmt::format("cpu: out of memory allocating {} bytes ({:.1f} MiB)", bytes,
                            static_cast<double>(bytes) / (1024.0 * 1024.0)));
  }
  return p;
}

void BlockCache::deallocate(void* ptr, size_t bytes) noexcept {
  const size_t size = size_class(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= size;
    if (size >= kMinCachedBytes && stats_.bytes_cached + size <= kMaxCachedBytes) {
      try {
        free_[size].push_back(ptr);
        stats_.bytes_cached += size;
        return;
      } catch (...) {  // no memory for the list entry: give the block back instead
      }
    }
  }
  std::free(ptr);
}

HostMemoryStats BlockCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BlockCache::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

}  // namespace gm

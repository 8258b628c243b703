#include "kernels/cuda/allocator.h"

#include <bit>
#include <cstring>

#include "engine/error.h"
#include "kernels/cuda/check.h"

namespace gm::GM_CUDA_NS {

CachingAllocator::CachingAllocator(std::string device_name, bool debug, CudaCounterSet& counters)
    : device_name_(std::move(device_name)), debug_(debug), counters_(counters) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, pool] : pools_)
    for (auto& [capacity, bases] : pool)
      for (char* base : bases)
        cudaFree(base);
  release_cache_locked();
  // Blocks still live belong to tensors that outlive the backend (static objects at exit):
  // the process is ending, and the driver reclaims device memory.
}

// At least 512 bytes; above that, four classes per power of two, so at most 25% is wasted.
size_t CachingAllocator::size_class(size_t bytes) {
  if (bytes <= 512) return 512;
  const size_t power = std::bit_floor(bytes);
  const size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

char* CachingAllocator::take(std::map<size_t, std::vector<char*>>& cache, size_t capacity) {
  auto it = cache.find(capacity);
  if (it != cache.end() && !it->second.empty()) {
    char* base = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= capacity;
    counters_.allocation(true);
    return base;
  }
  void* p = nullptr;
  // CUDA's documented way to allocate during a global-mode capture: cudaMalloc is not stream
  // work, so it is safe here, but the capture would refuse it as a potentially unsafe call.
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  if (capturing_pool_) GM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  const cudaError_t malloc_result = cudaMalloc(&p, capacity);
  if (capturing_pool_) GM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  if (malloc_result != cudaSuccess) {
    cudaGetLastError();  // clear the error, then retry with the cache given back
    release_cache_locked();
    if (cudaMalloc(&p, capacity) != cudaSuccess) {
      cudaGetLastError();
      fail(
          "{}: out of device memory allocating {:.1f} MiB ({:.1f} MiB in use): use smaller "
          "batches or models",
          device_name_, static_cast<double>(capacity) / 1048576.0,
          static_cast<double>(stats_.bytes_in_use) / 1048576.0);
    }
  }
  ++stats_.device_allocations;
  counters_.allocation(false);
  return static_cast<char*>(p);
}

void* CachingAllocator::allocate(size_t bytes) {
  raise_pending();
  std::lock_guard<std::mutex> lock(mutex_);
  Block b;
  b.bytes = bytes;
  b.pool = capturing_pool_;
  b.guarded = debug_ && b.pool == 0;
  b.capacity = size_class(bytes + (b.guarded ? 2 * kGuardBytes : 0));
  b.base = take(b.pool ? pools_[b.pool] : cache_, b.capacity);
  char* user = b.base + (b.guarded ? kGuardBytes : 0);
  if (b.guarded) {
    write_sentinels(b, user);
    GM_CUDA_CHECK(cudaMemset(user, 0xff, bytes));
  }
  live_[user] = b;
  stats_.bytes_in_use += b.capacity;
  return user;
}

void CachingAllocator::write_sentinels(const Block& b, void* user) const {
  GM_CUDA_CHECK(cudaMemset(b.base, kSentinel, kGuardBytes));
  GM_CUDA_CHECK(cudaMemset(static_cast<char*>(user) + b.bytes, kSentinel,
                           b.capacity - kGuardBytes - b.bytes));
}

std::string CachingAllocator::damage(const Block& b, void* user) const {
  if (!b.guarded) return "";
  const size_t tail = b.capacity - kGuardBytes - b.bytes;
  std::vector<unsigned char> front(kGuardBytes), back(tail);
  if (cudaMemcpy(front.data(), b.base, kGuardBytes, cudaMemcpyDeviceToHost) != cudaSuccess ||
      cudaMemcpy(back.data(), static_cast<char*>(user) + b.bytes, tail, cudaMemcpyDeviceToHost) !=
          cudaSuccess) {
    cudaGetLastError();
    return fmt::format("{}: cannot read the sentinels of the {}-byte buffer at {}", device_name_,
                       b.bytes, user);
  }
  // Report the overwritten byte nearest to the buffer: byte 0 is the first one past the end,
  // byte 1 the last one before the start.
  for (size_t i = 0; i < tail; ++i)
    if (back[i] != kSentinel)
      return fmt::format(
          "{}: out-of-bounds write detected: byte {} after the end of a {}-byte "
          "buffer at {} was overwritten (a kernel wrote past the end of it)",
          device_name_, i, b.bytes, user);
  for (size_t i = kGuardBytes; i-- > 0;)
    if (front[i] != kSentinel)
      return fmt::format(
          "{}: out-of-bounds write detected: byte {} before the start of a "
          "{}-byte buffer at {} was overwritten (a kernel wrote before it)",
          device_name_, kGuardBytes - i, b.bytes, user);
  return "";
}

void CachingAllocator::deallocate(void* ptr) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) {
    if (pending_.empty())
      pending_ = fmt::format(
          "{}: free of {}, which this allocator did not hand out (or which "
          "was freed already)",
          device_name_, ptr);
    return;
  }
  const Block b = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= b.capacity;
  stats_.bytes_cached += b.capacity;
  if (b.pool != 0 && pools_.contains(b.pool)) {
    pools_[b.pool][b.capacity].push_back(b.base);
  } else if (capturing_pool_ != 0) {
    // Freed during a capture: kernels recorded before the free may use it at every replay, so
    // it belongs to the capture's pool from now on. Its sentinel check reads the device, which
    // the capture forbids: it runs after the capture (nothing recorded has run by then).
    if (b.guarded) freed_during_capture_.emplace_back(ptr, b);
    pools_[capturing_pool_][b.capacity].push_back(b.base);
  } else if (b.guarded) {
    retire_guarded(b, ptr);
  } else {
    cache_[b.capacity].push_back(b.base);
  }
}

void CachingAllocator::retire_guarded(const Block& b, void* user) {
  std::string problem = damage(b, user);
  if (!problem.empty() && pending_.empty()) pending_ = std::move(problem);
  cudaMemset(user, 0xff, b.bytes);  // reads after free see NaN
  cache_[b.capacity].push_back(b.base);
}

int CachingAllocator::begin_private_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  GM_CHECK(capturing_pool_ == 0, "{}: a capture is already in progress", device_name_);
  capturing_pool_ = next_pool_++;
  pools_[capturing_pool_];
  return capturing_pool_;
}

void CachingAllocator::end_private_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  capturing_pool_ = 0;
  for (const auto& [user, block] : freed_during_capture_) {
    std::string problem = damage(block, user);
    if (!problem.empty() && pending_.empty()) pending_ = std::move(problem);
  }
  freed_during_capture_.clear();
}

void CachingAllocator::release_private_pool(int id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto pool = pools_.find(id);
  if (pool == pools_.end()) return;
  for (auto& [capacity, bases] : pool->second)
    for (char* base : bases)
      cache_[capacity].push_back(base);
  pools_.erase(pool);
}

void CachingAllocator::raise_pending() {
  std::string problem;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    problem.swap(pending_);
  }
  if (!problem.empty()) throw Error(problem);
}

void CachingAllocator::check() {
  raise_pending();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [user, block] : live_) {
    const std::string problem = damage(block, user);
    if (problem.empty()) continue;
    write_sentinels(block, user);  // report each overwrite once
    throw Error(problem);
  }
}

void CachingAllocator::release_cache_locked() {
  for (auto& [capacity, bases] : cache_)
    for (char* base : bases)
      cudaFree(base);
  cache_.clear();
  stats_.bytes_cached = 0;
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cache_locked();
}

void CachingAllocator::set_debug(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  debug_ = on;
}

bool CachingAllocator::debug() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return debug_;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace gm::GM_CUDA_NS

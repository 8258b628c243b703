// The host block cache behind the CPU backend's allocations (kernels/cpu/block_cache.h).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>

#include "engine/tensor.h"
#include "kernels/cpu/block_cache.h"
#include "kernels/cpu/cpu_backend.h"

using gm::BlockCache;

TEST_CASE("block cache size classes: 64-byte multiples, then quarter steps of a power of two",
          "[block_cache]") {
  CHECK(BlockCache::size_class(1) == 64);
  CHECK(BlockCache::size_class(64) == 64);
  CHECK(BlockCache::size_class(65) == 128);
  const size_t big = BlockCache::kMinCachedBytes;  // 256 KiB, a power of two
  CHECK(BlockCache::size_class(big) == big);
  CHECK(BlockCache::size_class(big + 1) == big + big / 4);
  CHECK(BlockCache::size_class(big + big / 4 + 1) == big + big / 2);
  // Never more than 25 % slack above the request.
  for (size_t bytes = big; bytes < 64 * big; bytes = bytes * 9 / 7 + 13) {
    const size_t c = BlockCache::size_class(bytes);
    CHECK(c >= bytes);
    CHECK(static_cast<double>(c) <= 1.25 * static_cast<double>(bytes) + 64);
  }
}

TEST_CASE("block cache hands a freed large block out again and counts bytes", "[block_cache]") {
  BlockCache cache;
  const size_t bytes = 3 * 1024 * 1024 + 5;
  void* a = cache.allocate(bytes);
  REQUIRE(a != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  std::memset(a, 1, bytes);  // the whole request is usable (ASan would flag an overrun)
  CHECK(cache.stats().bytes_in_use == BlockCache::size_class(bytes));
  cache.deallocate(a, bytes);
  CHECK(cache.stats().bytes_in_use == 0);
  CHECK(cache.stats().bytes_cached == BlockCache::size_class(bytes));
  // A request of the same size class gets the same block back, and the cache empties.
  void* b = cache.allocate(bytes + 1000);
  CHECK(b == a);
  CHECK(cache.stats().bytes_cached == 0);
  void* c = cache.allocate(bytes);  // none cached now: a fresh block from the system
  CHECK(cache.stats().peak_bytes_in_use == 2 * BlockCache::size_class(bytes));
  cache.deallocate(b, bytes + 1000);
  cache.deallocate(c, bytes);
  cache.reset_peak();
  CHECK(cache.stats().peak_bytes_in_use == 0);
}

TEST_CASE("block cache returns small blocks to malloc and keeps at most its cap", "[block_cache]") {
  BlockCache cache;
  void* small = cache.allocate(1000);
  cache.deallocate(small, 1000);
  CHECK(cache.stats().bytes_cached == 0);
  // Blocks beyond kMaxCachedBytes in total go back to the system.
  const size_t block = BlockCache::kMaxCachedBytes / 2;
  void* p[3] = {cache.allocate(block), cache.allocate(block), cache.allocate(block)};
  for (void* q : p)
    cache.deallocate(q, block);
  CHECK(cache.stats().bytes_cached <= BlockCache::kMaxCachedBytes);
  CHECK(cache.stats().bytes_cached == 2 * BlockCache::size_class(block));
}

TEST_CASE("cpu tensors go through the backend's block cache", "[block_cache]") {
  gm::CpuBackend& cpu = gm::cpu_backend();
  cpu.reset_peak_memory();
  const size_t before = cpu.memory_stats().bytes_in_use;
  {
    gm::Tensor t = gm::Tensor::zeros({1024, 1024});  // 4 MiB
    CHECK(cpu.memory_stats().bytes_in_use >= before + 4 * 1024 * 1024);
  }
  CHECK(cpu.memory_stats().bytes_in_use == before);
  CHECK(cpu.memory_stats().peak_bytes_in_use >= before + 4 * 1024 * 1024);
}

#pragma once
// A counter-based random stream: (seed, offset) fully determines the numbers, on every device.
// Each draw of n numbers consumes offsets [offset, offset + n); kernels compute element i from
// Philox(seed, offset + i) (kernels/common/philox.h), so no device holds hidden RNG state.
#include <cstdint>

#include "engine/error.h"

namespace gm {

class Generator {
 public:
  explicit Generator(uint64_t seed) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

  // Data parallelism: this process holds images [first, first + count) of a batch of `total`
  // images that one process would hold whole. Every draw is then for this process's `count`
  // images of a tensor laid out image after image (as all of ours are), and takes exactly
  // the slice of counters the whole batch's draw gives those images; the offset moves past
  // the whole batch's draw. So K processes draw the numbers one process would, and their
  // offsets stay equal to its offset (a checkpoint saves one stream for the group).
  void set_shard(uint64_t first, uint64_t count, uint64_t total) {
    GM_CHECK(count > 0 && first + count <= total,
             "Generator::set_shard: images [{}, {}) do not lie in a batch of {}", first,
             first + count, total);
    shard_first_ = first;
    shard_count_ = count;
    shard_total_ = total;
  }

  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    if (shard_count_ == shard_total_) {
      uint64_t first = offset_;
      offset_ += n;
      return first;
    }
    GM_CHECK(n % shard_count_ == 0,
             "a sharded generator drew {} numbers for {} images: draws must be per image", n,
             shard_count_);
    const uint64_t per_image = n / shard_count_;
    const uint64_t first = offset_ + per_image * shard_first_;
    offset_ += per_image * shard_total_;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  uint64_t shard_first_ = 0, shard_count_ = 1, shard_total_ = 1;
};

}  // namespace gm

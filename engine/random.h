#pragma once
// A counter-based random stream: (seed, offset) fully determines the numbers, on every device.
// Each draw of n numbers consumes offsets [offset, offset + n); kernels compute element i from
// Philox(seed, offset + i) (kernels/common/philox.h), so no device holds hidden RNG state.
#include <cstdint>

namespace gm {

class Generator {
 public:
  explicit Generator(uint64_t seed) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace gm

#pragma once
// Products of sizes that come from outside the program (file headers, checkpoint metadata,
// command-line options) are taken here and nowhere else: a crafted header must not wrap a
// product around to a small number that then passes a size check.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

namespace gm {

// The product of `sizes`, or nothing when a size is negative or the product exceeds INT64_MAX.
// The empty product is 1.
inline std::optional<int64_t> size_product(std::span<const int64_t> sizes) {
  int64_t product = 1;
  for (const int64_t s : sizes)
    if (s < 0 || __builtin_mul_overflow(product, s, &product)) return std::nullopt;
  return product;
}

inline std::optional<int64_t> size_product(std::initializer_list<int64_t> sizes) {
  return size_product(std::span(sizes.begin(), sizes.size()));
}

}  // namespace gm

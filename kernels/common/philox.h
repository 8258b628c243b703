#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: the output is a pure function of (key, counter), so element i of a draw is
// computed independently from counter (offset + i) on any device, in any order.
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.h"

namespace gm::philox {

struct Uint4 {
  uint32_t x, y, z, w;
};

GM_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// Ten rounds of the Philox4x32 bijection of `counter` under the 64-bit `key`.
GM_HD Uint4 philox4x32(uint64_t key64, uint64_t counter64) {
  const uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  const uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  Uint4 c{static_cast<uint32_t>(counter64), static_cast<uint32_t>(counter64 >> 32), 0u, 0u};
  uint32_t k0 = static_cast<uint32_t>(key64), k1 = static_cast<uint32_t>(key64 >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(kMul0, c.x, &hi0);
    uint32_t lo1 = mulhilo(kMul1, c.z, &hi1);
    c = Uint4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// A uniform double in (0, 1): 53 random bits, never exactly 0 or 1 (safe for log).
GM_HD double uniform_open01(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ static_cast<uint64_t>(lo >> 11);
  bits &= (uint64_t{1} << 53) - 1;
  return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
}

// Uniform in (0, 1) for element `index` of a draw that started at `offset`.
GM_HD double uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  Uint4 r = philox4x32(seed, offset + index);
  return uniform_open01(r.x, r.y);
}

// Standard normal for element `index` (Box-Muller on two uniforms of the same counter).
GM_HD double normal(uint64_t seed, uint64_t offset, uint64_t index) {
  Uint4 r = philox4x32(seed, offset + index);
  double u1 = uniform_open01(r.x, r.y);
  double u2 = uniform_open01(r.z, r.w);
#if defined(__CUDA_ARCH__)
  // A GPU's cos() of an arbitrary double keeps a table in local memory for huge arguments;
  // cospi reduces its argument exactly and agrees with cos(2 pi u2) to within an ulp or two.
  return ::sqrt(-2.0 * ::log(u1)) * ::cospi(2.0 * u2);
#else
  const double kTwoPi = 6.283185307179586476925286766559;
  return ::sqrt(-2.0 * ::log(u1)) * ::cos(kTwoPi * u2);
#endif
}

}  // namespace gm::philox

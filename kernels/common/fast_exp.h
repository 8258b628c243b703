#pragma once
// exp(x) for float as branch-free arithmetic, so a loop of it vectorises (glibc's expf is a
// scalar call: in the PixelCNN training step it was ~10 % of the time, 3 passes of exp over
// 256 x 784 logits per image). Shared by every backend, so they still agree bit for bit.
//
//   exp(x) = 2^n * exp(r),   n = round(x / ln 2),   r = x - n ln 2  in [-ln2/2, ln2/2]
//
// ln 2 is split into a part exact in float (ln2_hi, 9 significant bits, so n * ln2_hi is exact
// for |n| < 2^15) and the rest, so r carries no cancellation error. exp(r) is its Taylor
// polynomial of degree 7: the truncation error is below (ln2/2)^8 / 8! = 5e-9, under a tenth of
// float's unit roundoff (6e-8), so the result is within a few ulp of the true value. x is
// clamped to [-87, 88]: exp(-87) = 1.6e-38 is the smallest normal float region (glibc goes on
// into denormals, which no softmax sum or gradient here can tell apart from it), and exp(88)
// = 1.65e38 is below float's maximum. Double keeps the library exp: it is the reference type.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.h"

namespace gm::math {

GM_HD float fast_exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;      // 355 / 512: exact with 9 bits
  constexpr float kLn2Lo = -2.12194440e-4f;   // ln 2 - kLn2Hi
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n from its bit pattern: biased exponent n + 127 in [1, 254] for the clamped range.
  const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace gm::math

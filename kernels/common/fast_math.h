#pragma once
// exp, expm1, sigmoid and tanh for float as branch-free arithmetic, so a loop of them vectorises
// (glibc's expf/tanhf are scalar calls: ~10 % of the PixelCNN training step went to expf over
// 256 x 784 logits per image, ~20 % of the Row LSTM step to tanhf/expm1f). Used by the fused
// kernels (softmax cross-entropy, LSTM cell) of every backend, so the devices still agree bit for
// bit; the elementwise ops keep the C library's functions.
//
//   exp(x) = 2^n * exp(r),   n = round(x / ln 2),   r = x - n ln 2  in [-ln2/2, ln2/2]
//
// ln 2 is split into a part exact in float (ln2_hi, 9 significant bits, so n * ln2_hi is exact
// for |n| < 2^15) and the rest, so r carries no cancellation error. exp(r) - 1 is its Taylor
// polynomial of degree 7: the truncation error is below (ln2/2)^8 / 8! = 5e-9, under a tenth of
// float's unit roundoff (6e-8), so results are within a few ulp of the true value. x is
// clamped to [-87, 88]: exp(-87) = 1.6e-38 is the smallest normal float region (glibc goes on
// into denormals, which no softmax sum or gradient here can tell apart from it), and exp(88)
// = 1.65e38 is below float's maximum. Double keeps the library functions: it is the reference.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.h"

namespace gm::math {

namespace detail {

// x = n ln 2 + r for the clamped x; returns r and sets scale = 2^n.
GM_HD float reduce_exp_argument(float x, float& scale) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;      // 355 / 512: exact with 9 bits
  constexpr float kLn2Lo = -2.12194440e-4f;   // ln 2 - kLn2Hi
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float n = (x * kLog2e + kRoundMagic) - kRoundMagic;
  // 2^n from its bit pattern: biased exponent n + 127 in [1, 254] for the clamped range.
  const int32_t bits = (static_cast<int32_t>(n) + 127) * (1 << 23);
  std::memcpy(&scale, &bits, sizeof scale);
  return (x - n * kLn2Hi) - n * kLn2Lo;
}

// exp(r) - 1 for |r| <= ln2/2: the Taylor polynomial r + r^2/2! + ... + r^7/7!, evaluated without
// ever forming 1 + ..., so it keeps full relative accuracy for tiny r.
GM_HD float expm1_reduced(float r) {
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}

}  // namespace detail

GM_HD float fast_exp(float x) {
  float scale;
  const float r = detail::reduce_exp_argument(x, scale);
  return (1.0f + detail::expm1_reduced(r)) * scale;
}

// exp(x) - 1 = 2^n (exp(r) - 1) + (2^n - 1): for |x| <= ln2/2 (n = 0) that is the polynomial
// alone, a few ulp relative however small x is; elsewhere |exp(x) - 1| >= 0.29 and nothing
// cancels badly. 2^n - 1 is exact for every n that can occur here (|n| <= 127 and the sum
// rounds once).
GM_HD float fast_expm1(float x) {
  float scale;
  const float r = detail::reduce_exp_argument(x, scale);
  return scale * detail::expm1_reduced(r) + (scale - 1.0f);
}

// 1 / (1 + exp(-x)): where exp(-x) would overflow the clamp keeps it at 1.65e38, so the result
// is below 1e-38 instead of the true smaller value (an absolute difference no float sum sees).
GM_HD float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

// tanh(x) = e / (e + 2) with e = expm1(2x): relative accuracy near 0 (no 1 - exp(-2x)
// cancellation), and exactly +-1 once e is huge or -1.
GM_HD float fast_tanh(float x) {
  const float e = fast_expm1(2.0f * x);
  return e / (e + 2.0f);
}

}  // namespace gm::math

#pragma once
// exp, expm1, log, log1p, sigmoid and tanh for float as branch-free arithmetic, so a loop of
// them vectorises (glibc's expf/tanhf/log1pf are scalar calls: ~10 % of the PixelCNN training
// step went to expf over 256 x 784 logits per image, ~20 % of the Row LSTM step to
// tanhf/expm1f, ~20 % of the VAE step to the logistic likelihood's log1pf/expm1f). Used by the
// fused kernels (softmax cross-entropy, LSTM cell, likelihoods) of every backend, so the devices
// still agree bit for bit; the elementwise ops keep the C library's functions.
//
//   exp(x) = 2^n * exp(r),   n = round(x / ln 2),   r = x - n ln 2  in [-ln2/2, ln2/2]
//
// ln 2 is split into a part exact in float (ln2_hi, 9 significant bits, so n * ln2_hi is exact
// for |n| < 2^15) and the rest, so r carries no cancellation error. exp(r) - 1 is its Taylor
// polynomial of degree 7: the truncation error is below (ln2/2)^8 / 8! = 5e-9, under a tenth of
// float's unit roundoff (6e-8), so results are within a few ulp of the true value. exp of
// x < -87 is 0 (exp(-87) = 1.6e-38 is at the bottom of the normal floats; glibc goes on into
// denormals, which no softmax sum or gradient here can tell apart from 0), and x is clamped at
// 88 (exp(88) = 1.65e38 is below float's maximum; callers never pass larger arguments, which
// would overflow). Double keeps the library functions: it is the reference.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

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
  const float y = (1.0f + detail::expm1_reduced(r)) * scale;
  // Below the clamp the result is 0 (glibc returns denormals down to x = -103.9, then 0): a
  // difference under 1.7e-38 that keeps exp(-1000) exactly 0, as likelihood tests require.
  return x < -87.0f ? 0.0f : y;
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

// Split by sign, as math::sigmoid: e = exp(-|x|) never overflows, 1 / (1 + e) for x >= 0 and
// e / (1 + e) for x < 0, so sigmoid(-1000) is exactly 0 and sigmoid(1000) exactly 1.
GM_HD float fast_sigmoid(float x) {
  const float e = fast_exp(x < 0.0f ? x : -x);
  const float inv = 1.0f / (1.0f + e);
  return x >= 0.0f ? inv : e * inv;
}

// tanh(x) = e / (e + 2) with e = expm1(2x): relative accuracy near 0 (no 1 - exp(-2x)
// cancellation), and exactly +-1 once e is huge or -1.
GM_HD float fast_tanh(float x) {
  const float e = fast_expm1(2.0f * x);
  return e / (e + 2.0f);
}

// log(x) for x > 0 (including denormals): x = 2^e m with m in [sqrt(1/2), sqrt(2)), and
//   log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9 + ...),  s = (m - 1) / (m + 1)
// with |s| <= 0.172, so the first omitted term is below 0.172^10 / 11 = 2e-9 of the sum: a few
// ulp in all. log(0) gives a large negative number instead of -inf, log of a negative number is
// not defined; the callers here pass only positive values.
GM_HD float fast_log(float x) {
  constexpr float kLn2 = 0.693147180559945f;
  constexpr float kSmallest = 1.17549435e-38f;  // float's smallest normal
  // Denormals are scaled into the normal range first (2^23) and the exponent corrected.
  const bool denormal = x < kSmallest;
  x = denormal ? x * 8388608.0f : x;
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 127 - (denormal ? 23 : 0);
  const int32_t mantissa_bits = (bits & 0x007fffff) | 0x3f800000;  // m in [1, 2)
  float m;
  std::memcpy(&m, &mantissa_bits, sizeof m);
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  e = high ? e + 1 : e;
  const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return static_cast<float>(e) * kLn2 + 2.0f * s * p;
}

// log(1 + y) for y > -1 with relative accuracy for tiny y: u = 1 + y rounds, but
// log(u) * y / (u - 1) cancels that rounding to first order (u - 1 is exact); where u == 1,
// log1p(y) = y to float precision.
GM_HD float fast_log1p(float y) {
  const float u = 1.0f + y, d = u - 1.0f;
  const float ratio = d == 0.0f ? 1.0f : y / d;
  return d == 0.0f ? y : fast_log(u) * ratio;
}

// The functions the fused kernels call, by type: float takes the branch-free versions above,
// double (the reference type, used by gradient checks) the C library's.
namespace fused {
#define GM_FUSED_OVERLOAD(name, fast_name) \
  GM_HD float name(float x) {              \
    return fast_name(x);                   \
  }                                        \
  GM_HD double name(double x) {            \
    return math::name(x);                  \
  }
GM_FUSED_OVERLOAD(exp, fast_exp)
GM_FUSED_OVERLOAD(expm1, fast_expm1)
GM_FUSED_OVERLOAD(log, fast_log)
GM_FUSED_OVERLOAD(log1p, fast_log1p)
GM_FUSED_OVERLOAD(tanh, fast_tanh)
GM_FUSED_OVERLOAD(sigmoid, fast_sigmoid)
#undef GM_FUSED_OVERLOAD
// log(1 + exp(x)), as math::softplus.
template <typename T>
GM_HD T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-(x > T(0) ? x : -x)));
}
}  // namespace fused

}  // namespace gm::math

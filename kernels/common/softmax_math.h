#pragma once
// Softmax over the V values of one position (a "column" of logits [N, V, S], whose entries
// are `stride` = S elements apart), shared by every backend so they agree on the formula:
//
//   lse   = m + log(sum_v exp(x_v - m)),  m = max_v x_v      (never overflows: x_v - m <= 0)
//   nll   = lse - x_target
//   dx_v  = dnll * (exp(x_v - m) / sum - [v == target])      (softmax - one-hot)
//
// exp(x_v - m) is evaluated in the logits' type T (see softmax_term) (x_v - m is exact by Sterbenz'
// lemma whenever it matters, i.e. when exp of it is not negligible) and summed in double, so the
// per-position sum is as accurate in float32 as the inputs allow. A backend may walk a column
// serially (one GPU thread per position) or sweep rows of a whole image (the CPU kernel):
// both do the same operations per position in the same order (v = 0, 1, ..., V - 1).
#include <cmath>
#include <cstdint>

#include "kernels/common/fast_math.h"
#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

namespace gm::math {

// The two numbers a softmax column reduces to.
template <typename T>
struct SoftmaxStats {
  T max;       // m = max_v x_v
  double sum;  // sum_v exp(x_v - m), at least 1 (the maximum contributes exp(0))
};

template <typename T>
GM_HD T max_of(T a, T b) {
  return a > b ? a : b;
}

// exp(x - m): one term of the sum, and the unnormalised softmax probability. In float it is
// fast_exp (kernels/common/fast_math.h: a few ulp, and vectorisable on the CPU); in double, the
// reference type, the library exp.
template <typename T>
GM_HD T softmax_term(T x, T max) {
  return fused::exp(x - max);
}

template <typename T>
GM_HD SoftmaxStats<T> softmax_stats(const T* x, int64_t count, int64_t stride) {
  T m = x[0];
  for (int64_t v = 1; v < count; ++v)
    m = max_of(m, x[v * stride]);
  double sum = 0.0;
  for (int64_t v = 0; v < count; ++v)
    sum += static_cast<double>(softmax_term(x[v * stride], m));
  return {m, sum};
}

template <typename T>
GM_HD double log_sum_exp(const SoftmaxStats<T>& st) {
  return static_cast<double>(st.max) + ::log(st.sum);
}

// d nll / d x_v scaled by dnll: softmax_v - [v is the target].
template <typename T>
GM_HD T softmax_xent_grad(T x, T max, double inv_sum, bool is_target, T dnll) {
  const T p = static_cast<T>(static_cast<double>(softmax_term(x, max)) * inv_sum);
  return dnll * (is_target ? p - T(1) : p);
}

// Inverse-CDF draw from softmax(x / temperature) with a uniform u in (0, 1): the smallest v
// whose cumulative weight exceeds u * total. Weights exp((x_v - m) / temperature) are computed
// in double, so a tiny temperature leaves only the maximum (exp(0) = 1) and the draw becomes
// the argmax (the first one on an exact tie). Rounding can leave u * total at or above the
// final cumulative sum; the last value with non-zero weight is returned then.
template <typename T>
GM_HD int32_t sample_inverse_cdf(const T* x, int64_t count, int64_t stride, double temperature,
                                 double u) {
  T m = x[0];
  for (int64_t v = 1; v < count; ++v)
    m = max_of(m, x[v * stride]);
  const double mx = static_cast<double>(m);
  double total = 0.0;
  for (int64_t v = 0; v < count; ++v)
    total += ::exp((static_cast<double>(x[v * stride]) - mx) / temperature);
  const double target = u * total;
  double cumulative = 0.0;
  int32_t last_positive = 0;
  for (int64_t v = 0; v < count; ++v) {
    const double w = ::exp((static_cast<double>(x[v * stride]) - mx) / temperature);
    if (w > 0.0) last_positive = static_cast<int32_t>(v);
    cumulative += w;
    if (target < cumulative) return static_cast<int32_t>(v);
  }
  return last_positive;
}

}  // namespace gm::math

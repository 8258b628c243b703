#pragma once
// Likelihoods built on the logistic sigmoid, shared by every backend.
//
// Bernoulli with logit l and target t in [0, 1]:
//   nll = softplus(l) - t l = t softplus(-l) + (1 - t) softplus(l)      d nll / dl = sigmoid(l) - t
// The second form never subtracts two large numbers (softplus(20) - 20 would lose every digit
// of the true 2e-9 in float32), so it is exact for any |l|.
//
// Discretized logistic over 256 bins on [-1, 1] (vae-ref): x = 2 v / 255 - 1 for a pixel value
// v, bin half-width 1/255, scale s = exp(log_scale). With c = (x - mean) / s and the
// standardised half-width w = (1/255) / s, the bin's edges are a = c + w and b = c - w, and
//   v = 0      (bottom bin, takes the left tail):   log p = log sigmoid(a)     = -softplus(-a)
//   v = 255    (top bin, takes the right tail):     log p = log(1 - sigmoid(b)) = -softplus(b)
//   otherwise:                                     log p = log(sigmoid(a) - sigmoid(b))
// The middle case uses the exact identity
//   sigmoid(a) - sigmoid(b) = sinh((a - b) / 2) / (2 cosh(a / 2) cosh(b / 2)),
// so  log p = log sinh(w) - log 2 - log cosh(a / 2) - log cosh(b / 2),  which subtracts nothing
// that could cancel: it stays accurate far in either tail (where both CDFs round to 0 or 1) and
// for tiny w (where the two CDFs agree to every digit and PixelCNN++ switches to the density at
// the bin centre times the bin width; that midpoint rule is the w -> 0 limit of this formula,
// so no switch, threshold or discontinuity is needed).
//
// Derivatives (da/dmean = db/dmean = -1/s, da/dlog_scale = -a, dw/dlog_scale = -w):
//   bottom: d/dmean = -sigmoid(-a) / s          d/dlog_scale = -a sigmoid(-a)
//   top:    d/dmean =  sigmoid(b) / s           d/dlog_scale =  b sigmoid(b)
//   middle: d/dmean = (tanh(a/2) + tanh(b/2)) / (2 s)
//           d/dlog_scale = -w / tanh(w) + (a tanh(a/2) + b tanh(b/2)) / 2
// There is no gradient with respect to x (it is data).
//
// exp, log, tanh, ... are math::fused's: branch-free in float (a few ulp;
// kernels/common/fast_math.h), the C library's in double.
#include <cstdint>

#include "kernels/common/fast_math.h"
#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

namespace gm::math {

// ---- Bernoulli

template <typename T>
GM_HD T bernoulli_nll(T logit, T target) {
  return target * fused::softplus(-logit) + (T(1) - target) * fused::softplus(logit);
}

template <typename T>
GM_HD T bernoulli_nll_grad(T logit, T target, T dnll) {
  return dnll * (fused::sigmoid(logit) - target);
}

// ---- discretized logistic

constexpr double kLogisticHalfBin = 1.0 / 255.0;
constexpr double kLn2 = 0.69314718055994530941723212145818;

template <typename T>
GM_HD T abs_of(T x) {
  return x < T(0) ? -x : x;
}

// log cosh(t) = |t| + log1p(exp(-2|t|)) - log 2: no overflow for any t.
template <typename T>
GM_HD T log_cosh(T t) {
  const T m = abs_of(t);
  return m + fused::log1p(fused::exp(T(-2) * m)) - T(kLn2);
}

// log sinh(t) for t > 0: t + log(1 - exp(-2t)) - log 2, with expm1 keeping small t exact.
template <typename T>
GM_HD T log_sinh(T t) {
  return t + fused::log(-fused::expm1(T(-2) * t)) - T(kLn2);
}

// t / tanh(t) for t > 0; its series 1 + t^2/3 - t^4/45 below 1e-4 (truncation < 1e-17),
// where the quotient would divide two vanishing numbers.
template <typename T>
GM_HD T t_coth_t(T t) {
  return t < T(1e-4) ? T(1) + t * t / T(3) : t / fused::tanh(t);
}

enum LogisticBin : int { kBottomBin, kMiddleBin, kTopBin };

// Which case a grid value falls in; the thresholds sit half a bin inside the ends.
template <typename T>
GM_HD int logistic_bin(T x) {
  if (x < T(-1.0 + kLogisticHalfBin)) return kBottomBin;
  if (x > T(1.0 - kLogisticHalfBin)) return kTopBin;
  return kMiddleBin;
}

template <typename T>
struct LogisticEdges {
  T inv_s, a, b, w;
};

template <typename T>
GM_HD LogisticEdges<T> logistic_edges(T x, T mean, T log_scale) {
  const T inv_s = fused::exp(-log_scale);
  const T c = (x - mean) * inv_s;
  const T w = T(kLogisticHalfBin) * inv_s;
  return {inv_s, c + w, c - w, w};
}

// log P(bin of x) under logistic(mean, exp(log_scale)). All three cases are computed and one is
// selected rather than branched to: a CPU loop over a batch then vectorises, and a GPU warp
// whose pixels fall in different bins would have run every case anyway.
template <typename T>
GM_HD T discretized_logistic_logp(T x, T mean, T log_scale) {
  const LogisticEdges<T> e = logistic_edges(x, mean, log_scale);
  const T bottom = -fused::softplus(-e.a);
  const T top = -fused::softplus(e.b);
  const T middle = log_sinh(e.w) - T(kLn2) - log_cosh(e.a * T(0.5)) - log_cosh(e.b * T(0.5));
  const int bin = logistic_bin(x);
  return bin == kBottomBin ? bottom : (bin == kTopBin ? top : middle);
}

template <typename T>
struct LogisticGrad {
  T dmean, dlog_scale;  // derivatives of log p
};

template <typename T>
GM_HD LogisticGrad<T> discretized_logistic_logp_grad(T x, T mean, T log_scale) {
  const LogisticEdges<T> e = logistic_edges(x, mean, log_scale);
  const T q_bottom = fused::sigmoid(-e.a), q_top = fused::sigmoid(e.b);
  const T ta = fused::tanh(e.a * T(0.5)), tb = fused::tanh(e.b * T(0.5));
  const int bin = logistic_bin(x);
  const T dmean = bin == kBottomBin ? -q_bottom * e.inv_s
                  : bin == kTopBin  ? q_top * e.inv_s
                                    : (ta + tb) * T(0.5) * e.inv_s;
  const T dlog_scale = bin == kBottomBin ? -e.a * q_bottom
                       : bin == kTopBin  ? e.b * q_top
                                         : -t_coth_t(e.w) + (e.a * ta + e.b * tb) * T(0.5);
  return {dmean, dlog_scale};
}

}  // namespace gm::math

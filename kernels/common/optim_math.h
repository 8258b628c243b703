#pragma once
// One optimizer step for one parameter element, shared by every backend so the devices take
// the same steps (kernels/cpu/optim.cpp loops over it with OpenMP, kernels/cuda/optim.cu runs
// one thread per element).
//
// Adam/AdamW compute in the parameter's type T, with everything that is the same for every
// element folded into constants on the host first (AdamConstants): the per-element work is then
// a few multiplies, one square root and one division, which vectorises on the CPU. (Computing
// in double with both bias corrections divided per element took 41 % of the vae-ref training
// step; the moments are stored in T anyway, so double bought only a last-bit difference.)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / bc1) / (sqrt(v) / sqrt(bc2) + eps)   (= lr * m_hat / (sqrt(v_hat) + eps))
// lr multiplies last: m_hat / (sqrt(v_hat) + eps) is about 1, so even an absurd lr (1e38, as in
// the divergence test) gives a finite step instead of overflowing in lr / bc1.
//
// SGD with momentum (PyTorch's form; Nesterov optional) computes in double: it is cheap, and
// nothing in this project trains with it at a scale where that shows.
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

namespace gm::math {

template <typename T>
struct AdamConstants {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, lr, inv_bc1, inv_sqrt_bc2, eps;
  T l2;    // weight decay added to the gradient (Adam), 0 for AdamW
  T keep;  // 1 - lr * weight decay applied to the weight itself (AdamW), 1 for Adam
};

// Host side: the constants of step `step` (1-based, for the bias corrections).
template <typename T>
AdamConstants<T> adam_constants(double lr, double beta1, double beta2, double eps,
                                double weight_decay, bool decoupled, int64_t step) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {static_cast<T>(beta1),
          static_cast<T>(beta2),
          static_cast<T>(1.0 - beta1),
          static_cast<T>(1.0 - beta2),
          static_cast<T>(lr),
          static_cast<T>(1.0 / bc1),
          static_cast<T>(1.0 / std::sqrt(bc2)),
          static_cast<T>(eps),
          static_cast<T>(decoupled ? 0.0 : weight_decay),
          static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0)};
}

template <typename T>
GM_HD void adam_step(const AdamConstants<T>& c, T g, T& p, T& m, T& v) {
  const T gi = g + c.l2 * p;
  const T mi = c.beta1 * m + c.one_minus_beta1 * gi;
  const T vi = c.beta2 * v + c.one_minus_beta2 * gi * gi;
  m = mi;
  v = vi;
  p = c.keep * p - c.lr * (mi * c.inv_bc1 / (sqrt(vi) * c.inv_sqrt_bc2 + c.eps));
}

// `buffer` is null for plain SGD (no momentum state).
template <typename T>
GM_HD void sgd_step(double lr, double momentum, double weight_decay, bool nesterov, T g, T& p,
                    T* buffer) {
  double d = static_cast<double>(g) + weight_decay * static_cast<double>(p);
  if (buffer && momentum != 0.0) {
    const double b = momentum * static_cast<double>(*buffer) + d;
    *buffer = static_cast<T>(b);
    d = nesterov ? d + momentum * b : b;
  }
  p = static_cast<T>(static_cast<double>(p) - lr * d);
}

}  // namespace gm::math

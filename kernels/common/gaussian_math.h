#pragma once
// The VAE's Gaussian pieces, shared by every backend.
//
// Reparameterised sample, with eps ~ N(0, 1) from Philox:
//   z = mu + eps exp(logvar / 2)       dz/dmu = 1    dz/dlogvar = eps exp(logvar / 2) / 2
//
// KL(N(mu, exp(logvar)) || N(0, 1)) for one dimension, in closed form:
//   kl = -1/2 (1 + logvar - mu^2 - exp(logvar)) = 1/2 (mu^2 + (exp(logvar) - 1 - logvar))
//   dkl/dmu = mu                       dkl/dlogvar = expm1(logvar) / 2
// Near the optimum logvar = 0, exp(l) - 1 - l ~ l^2 / 2 would cancel to nothing if computed
// as written (float32: every digit lost at l = 1e-4), so it has its own function below.
#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

namespace gm::math {

template <typename T>
GM_HD T gaussian_sample(T mu, T logvar, T eps) {
  return mu + eps * exp(logvar * T(0.5));
}

template <typename T>
GM_HD T gaussian_sample_dlogvar(T logvar, T eps, T dz) {
  return dz * eps * exp(logvar * T(0.5)) * T(0.5);
}

// exp(x) - 1 - x without cancellation. Below |x| = 0.01 its Taylor series to x^6 (truncation
// x^7/7!, relative x^5/2520 < 4e-14); above, expm1(x) - x loses at most a factor 2/|x| < 200
// of relative precision. The crossover balances the two errors in double.
template <typename T>
GM_HD T expm1_minus_x(T x) {
  if (x > T(-0.01) && x < T(0.01))
    return x * x * T(0.5) *
           (T(1) + x / T(3) * (T(1) + x / T(4) * (T(1) + x / T(5) * (T(1) + x / T(6)))));
  return expm1(x) - x;
}

template <typename T>
GM_HD T kl_std_normal(T mu, T logvar) {
  return T(0.5) * (mu * mu + expm1_minus_x(logvar));
}

template <typename T>
GM_HD T kl_std_normal_dmu(T mu, T dkl) {
  return dkl * mu;
}

template <typename T>
GM_HD T kl_std_normal_dlogvar(T logvar, T dkl) {
  return dkl * T(0.5) * expm1(logvar);
}

}  // namespace gm::math

#include <cmath>

#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
// Below this many elements, starting threads costs more than the update itself.
constexpr int64_t kParallelThreshold = 65536;
}  // namespace

// Adam computes in the parameter's type, with everything that is the same for every element
// (bias corrections, the step size) folded into constants first: the loop is then a few vector
// multiplies, one square root and one division per element. (It used to compute in double with
// both bias corrections divided per element: 41 % of the vae-ref training step.) The moment
// estimates are stored in T anyway, so double arithmetic bought only a last-bit difference.
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / bc1) / (sqrt(v) / sqrt(bc2) + eps)   (= lr * m_hat / (sqrt(v_hat) + eps))
// lr multiplies last: m_hat / (sqrt(v_hat) + eps) is about 1, so even an absurd lr (1e38, as in
// the divergence test) gives a finite step instead of overflowing in lr / bc1.
void CpuBackend::adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                             Tensor& v) {
  dispatch_floating(param.dtype(), "adam_update", [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(param.raw());
    const T* g = static_cast<const T*>(grad.raw());
    T* ms = static_cast<T*>(m.raw());
    T* vs = static_cast<T*>(v.raw());
    const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
    const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
    const T beta1 = static_cast<T>(s.beta1), beta2 = static_cast<T>(s.beta2);
    const T one_minus_beta1 = static_cast<T>(1.0 - s.beta1);
    const T one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
    const T lr = static_cast<T>(s.lr), inv_bc1 = static_cast<T>(1.0 / bc1);
    const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
    const T eps = static_cast<T>(s.eps);
    // L2-in-gradient (Adam) or decoupled decay of the weight itself (AdamW); 0 when unused.
    const T l2 = static_cast<T>(s.decoupled ? 0.0 : s.weight_decay);
    const T keep = static_cast<T>(s.decoupled ? 1.0 - s.lr * s.weight_decay : 1.0);
    const int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      const T gi = g[i] + l2 * p[i];
      const T mi = beta1 * ms[i] + one_minus_beta1 * gi;
      const T vi = beta2 * vs[i] + one_minus_beta2 * gi * gi;
      ms[i] = mi;
      vs[i] = vi;
      p[i] = keep * p[i] - lr * (mi * inv_bc1 / (std::sqrt(vi) * inv_sqrt_bc2 + eps));
    }
  });
}

void CpuBackend::sgd_update(const SgdStep& s, Tensor& param, const Tensor& grad,
                            Tensor& momentum_buffer) {
  dispatch_floating(param.dtype(), "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(param.raw());
    const T* g = static_cast<const T*>(grad.raw());
    T* buf = momentum_buffer.defined() ? static_cast<T*>(momentum_buffer.raw()) : nullptr;
    const int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      double d = static_cast<double>(g[i]) + s.weight_decay * static_cast<double>(p[i]);
      if (buf && s.momentum != 0.0) {
        const double b = s.momentum * static_cast<double>(buf[i]) + d;
        buf[i] = static_cast<T>(b);
        d = s.nesterov ? d + s.momentum * b : b;
      }
      p[i] = static_cast<T>(static_cast<double>(p[i]) - s.lr * d);
    }
  });
}

}  // namespace gm

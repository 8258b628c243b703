#include <cmath>

#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
// Below this many elements, starting threads costs more than the update itself.
constexpr int64_t kParallelThreshold = 65536;
}  // namespace

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
    const int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      double gi = static_cast<double>(g[i]);
      if (!s.decoupled) gi += s.weight_decay * static_cast<double>(p[i]);
      const double mi = s.beta1 * static_cast<double>(ms[i]) + (1.0 - s.beta1) * gi;
      const double vi = s.beta2 * static_cast<double>(vs[i]) + (1.0 - s.beta2) * gi * gi;
      ms[i] = static_cast<T>(mi);
      vs[i] = static_cast<T>(vi);
      double pi = static_cast<double>(p[i]);
      if (s.decoupled) pi -= s.lr * s.weight_decay * pi;
      pi -= s.lr * (mi / bc1) / (std::sqrt(vi / bc2) + s.eps);
      p[i] = static_cast<T>(pi);
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

#include "kernels/common/optim_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
// Below this many elements, starting threads costs more than the update itself.
constexpr int64_t kParallelThreshold = 65536;
}  // namespace

// The per-element formulas are kernels/common/optim_math.h's, shared with the CUDA backend.
void CpuBackend::adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                             Tensor& v) {
  dispatch_floating(param.dtype(), "adam_update", [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(param.raw());
    const T* g = static_cast<const T*>(grad.raw());
    T* ms = static_cast<T*>(m.raw());
    T* vs = static_cast<T*>(v.raw());
    const math::AdamConstants<T> c =
        math::adam_constants<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled, s.step);
    const int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
      math::adam_step(c, g[i], p[i], ms[i], vs[i]);
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
    for (int64_t i = 0; i < n; ++i)
      math::sgd_step(s.lr, s.momentum, s.weight_decay, s.nesterov, g[i], p[i],
                     buf ? buf + i : nullptr);
  });
}

}  // namespace gm

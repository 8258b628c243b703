// Optimizer steps, one thread per parameter, with kernels/common/optim_math.h's formulas (the
// CPU backend's too, so both devices take the same steps).
#include "kernels/common/optim_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_entries.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void adam_kernel(math::AdamConstants<T> c, T* param, const T* grad, T* m, T* v,
                            int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    math::adam_step(c, grad[i], param[i], m[i], v[i]);
}

template <typename T>
__global__ void sgd_kernel(SgdStep a, T* param, const T* grad, T* buffer, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    math::sgd_step(a.lr, a.momentum, a.weight_decay, a.nesterov, grad[i], param[i],
                   buffer ? buffer + i : nullptr);
}

}  // namespace

namespace launchers {

void adam_update(const Exec& e, const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                 Tensor& v) {
  const int64_t n = param.numel;
  if (n == 0) return;
  with_floating(param.dtype, "adam_update", [&](auto zero) {
    using T = decltype(zero);
    const math::AdamConstants<T> c =
        math::adam_constants<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled, s.step);
    const unsigned threads = threads_for(n, e.block);
    GM_LAUNCH((adam_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (c, param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), n);
  });
}

// momentum_buffer is undefined (a null pointer) for plain SGD.
void sgd_update(const Exec& e, const SgdStep& s, Tensor& param, const Tensor& grad,
                Tensor& momentum_buffer) {
  const int64_t n = param.numel;
  if (n == 0) return;
  with_floating(param.dtype, "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = threads_for(n, e.block);
    GM_LAUNCH((sgd_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (s, param.data<T>(), grad.data<T>(), momentum_buffer.data<T>(), n);
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS

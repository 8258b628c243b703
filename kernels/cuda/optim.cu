// Optimizer steps, one thread per parameter, with kernels/common/optim_math.h's formulas (the
// CPU backend's too, so both devices take the same steps).
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_fused.h"

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

template <typename T>
void adam_update(const Exec& e, const math::AdamConstants<T>& c, T* param, const T* grad, T* m,
                 T* v, int64_t n) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((adam_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (c, param, grad, m, v, n);
}

template <typename T>
void sgd_update(const Exec& e, const SgdStep& a, T* param, const T* grad, T* momentum_buffer,
                int64_t n) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((sgd_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (a, param, grad, momentum_buffer, n);
}

template void adam_update<float>(const Exec&, const math::AdamConstants<float>&, float*,
                                 const float*, float*, float*, int64_t);
template void adam_update<double>(const Exec&, const math::AdamConstants<double>&, double*,
                                  const double*, double*, double*, int64_t);
template void sgd_update<float>(const Exec&, const SgdStep&, float*, const float*, float*, int64_t);
template void sgd_update<double>(const Exec&, const SgdStep&, double*, const double*, double*,
                                 int64_t);

}  // namespace gm::GM_CUDA_NS

// Optimizer steps, one thread per parameter, in double like the CPU backend
// (kernels/cpu/optim.cpp): the same formulas, so both devices take the same steps.
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_fused.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void adam_kernel(AdamArgs a, T* param, const T* grad, T* m, T* v, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    double g = static_cast<double>(grad[i]);
    if (!a.decoupled) g += a.weight_decay * static_cast<double>(param[i]);  // L2 in the gradient
    const double mi = a.beta1 * static_cast<double>(m[i]) + (1.0 - a.beta1) * g;
    const double vi = a.beta2 * static_cast<double>(v[i]) + (1.0 - a.beta2) * g * g;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    double p = static_cast<double>(param[i]);
    if (a.decoupled) p -= a.lr * a.weight_decay * p;  // AdamW
    p -= a.lr * (mi / a.bias_correction1) / (::sqrt(vi / a.bias_correction2) + a.eps);
    param[i] = static_cast<T>(p);
  }
}

template <typename T>
__global__ void sgd_kernel(SgdArgs a, T* param, const T* grad, T* buffer, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    double d = static_cast<double>(grad[i]) + a.weight_decay * static_cast<double>(param[i]);
    if (buffer && a.momentum != 0.0) {
      const double b = a.momentum * static_cast<double>(buffer[i]) + d;
      buffer[i] = static_cast<T>(b);
      d = a.nesterov ? d + a.momentum * b : b;
    }
    param[i] = static_cast<T>(static_cast<double>(param[i]) - a.lr * d);
  }
}

}  // namespace

template <typename T>
void adam_update(const Exec& e, const AdamArgs& a, T* param, const T* grad, T* m, T* v, int64_t n) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((adam_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (a, param, grad, m, v, n);
}

template <typename T>
void sgd_update(const Exec& e, const SgdArgs& a, T* param, const T* grad, T* momentum_buffer,
                int64_t n) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((sgd_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (a, param, grad, momentum_buffer, n);
}

template void adam_update<float>(const Exec&, const AdamArgs&, float*, const float*, float*, float*,
                                 int64_t);
template void adam_update<double>(const Exec&, const AdamArgs&, double*, const double*, double*,
                                  double*, int64_t);
template void sgd_update<float>(const Exec&, const SgdArgs&, float*, const float*, float*, int64_t);
template void sgd_update<double>(const Exec&, const SgdArgs&, double*, const double*, double*,
                                 int64_t);

}  // namespace gm::GM_CUDA_NS

// Fused bias + ReLU with kernels/common/bias_relu_math.h, one thread per element (grid-stride):
// element i of an [N, C, S] tensor has channel (i / S) % C.
#include "kernels/common/bias_relu_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_fused.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void bias_relu_forward_kernel(const T* x, const T* bias, int64_t n, int64_t C, int64_t S,
                                         T* y) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = math::bias_relu(x[i], bias[(i / S) % C]);
}

template <typename T>
__global__ void bias_relu_backward_kernel(const T* y, const T* dy, int64_t n, T* dx) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    dx[i] = math::bias_relu_grad(y[i], dy[i]);
}

}  // namespace

template <typename T>
void bias_relu_forward(const Exec& e, const T* x, const T* bias, int64_t n, int64_t C, int64_t S,
                       T* y) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((bias_relu_forward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (x, bias, n, C, S, y);
}

template <typename T>
void bias_relu_backward(const Exec& e, const T* y, const T* dy, int64_t n, T* dx) {
  if (n == 0) return;
  const unsigned threads = threads_for(n, e.block);
  GM_LAUNCH((bias_relu_backward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (y, dy, n, dx);
}

#define GM_INSTANTIATE(T)                                                                        \
  template void bias_relu_forward<T>(const Exec&, const T*, const T*, int64_t, int64_t, int64_t, \
                                     T*);                                                        \
  template void bias_relu_backward<T>(const Exec&, const T*, const T*, int64_t, T*);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS

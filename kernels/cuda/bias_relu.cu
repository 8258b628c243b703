// Fused bias + ReLU with kernels/common/bias_relu_math.h, one thread per element (grid-stride):
// element i of an [N, C, S] tensor has channel (i / S) % C.
#include "kernels/common/bias_relu_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_entries.h"

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

namespace launchers {

void bias_relu_forward(const Exec& e, const Tensor& x, const Tensor& bias, Tensor& y) {
  const int64_t n = x.numel, C = bias.numel, rows = x.size(0) * C;
  if (n == 0) return;
  with_floating(x.dtype, "bias_relu_forward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = threads_for(n, e.block);
    GM_LAUNCH((bias_relu_forward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (x.data<T>(), bias.data<T>(), n, C, n / rows, y.data<T>());
  });
}

void bias_relu_backward(const Exec& e, const Tensor& y, const Tensor& dy, Tensor& dx) {
  const int64_t n = y.numel;
  if (n == 0) return;
  with_floating(y.dtype, "bias_relu_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = threads_for(n, e.block);
    GM_LAUNCH((bias_relu_backward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (y.data<T>(), dy.data<T>(), n, dx.data<T>());
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS

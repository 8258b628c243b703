// Elementwise kernels: one thread per element in a grid-stride loop, with the scalar formulas
// of kernels/common/unary_math.h, the same the CPU backend uses.
#include "kernels/common/unary_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void unary_kernel(UnaryOp op, const T* x, T* y, int64_t n, T alpha, T scale, T shift) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = math::unary_forward(op, x[i], alpha, scale, shift);
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* y, const T* dy, T* dx,
                                      int64_t n, T alpha, T scale) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    dx[i] = math::unary_backward(op, x[i], y[i], dy[i], alpha, scale);
}

template <typename T>
__global__ void binary_same_shape_kernel(BinaryOp op, const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = math::binary_forward(op, a[i], b[i]);
}

// Broadcasting: y's linear index is split into coordinates, each weighted by a and b's strides
// (0 along the dimensions they are broadcast in).
template <typename T>
__global__ void binary_broadcast_kernel(BinaryOp op, const T* a, const T* b, T* y, int64_t n,
                                        Broadcast bc) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = bc.ndim - 1; d >= 0; --d) {
      const int64_t coord = rest % bc.shape[d];
      rest /= bc.shape[d];
      ia += coord * bc.a_stride[d];
      ib += coord * bc.b_stride[d];
    }
    y[i] = math::binary_forward(op, a[ia], b[ib]);
  }
}

template <typename T>
__global__ void axpy_kernel(T alpha, const T* x, T* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] += alpha * x[i];
}

}  // namespace

template <typename T>
void unary(const Exec& e, UnaryOp op, const T* x, T* y, int64_t n, T alpha, T scale, T shift) {
  const unsigned threads = kernel_threads<unary_kernel<T>>(n, e.block);
  GM_LAUNCH((unary_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (op, x, y, n, alpha, scale, shift);
}

template <typename T>
void unary_backward(const Exec& e, UnaryOp op, const T* x, const T* y, const T* dy, T* dx,
                    int64_t n, T alpha, T scale) {
  const unsigned threads = kernel_threads<unary_backward_kernel<T>>(n, e.block);
  GM_LAUNCH((unary_backward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (op, x, y, dy, dx, n, alpha, scale);
}

template <typename T>
void binary(const Exec& e, BinaryOp op, const T* a, const T* b, T* y, int64_t n,
            const Broadcast& bc) {
  if (bc.ndim == 0) {
    const unsigned threads = kernel_threads<binary_same_shape_kernel<T>>(n, e.block);
    GM_LAUNCH((binary_same_shape_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (op, a, b, y, n);
  } else {
    const unsigned threads = kernel_threads<binary_broadcast_kernel<T>>(n, e.block);
    GM_LAUNCH((binary_broadcast_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (op, a, b, y, n, bc);
  }
}

template <typename T>
void axpy(const Exec& e, T alpha, const T* x, T* y, int64_t n) {
  const unsigned threads = kernel_threads<axpy_kernel<T>>(n, e.block);
  GM_LAUNCH((axpy_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)(alpha, x, y, n);
}

#define GM_INSTANTIATE(T)                                                                          \
  template void unary<T>(const Exec&, UnaryOp, const T*, T*, int64_t, T, T, T);                    \
  template void unary_backward<T>(const Exec&, UnaryOp, const T*, const T*, const T*, T*, int64_t, \
                                  T, T);                                                           \
  template void binary<T>(const Exec&, BinaryOp, const T*, const T*, T*, int64_t,                  \
                          const Broadcast&);                                                       \
  template void axpy<T>(const Exec&, T, const T*, T*, int64_t);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS

// Fills, dtype conversions, Philox noise and strided copies: one thread per element in a
// grid-stride loop.
#include "kernels/common/philox.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void fill_kernel(T* y, int64_t n, T value) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = value;
}

template <typename T>
__global__ void arange_kernel(T* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = static_cast<T>(i);
}

template <typename X, typename Y>
__global__ void cast_kernel(const X* x, Y* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = static_cast<Y>(x[i]);
}

// a + b * c rounded twice, as the CPU computes it: nvcc would otherwise contract it into one
// fused multiply-add and the last bit could differ from the CPU's numbers.
__device__ __forceinline__ double add_mul(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, __dmul_rn(b, c));
#else
  return a + b * c;
#endif
}

// Element i is a pure function of (seed, offset + i): the same numbers as the CPU backend.
template <typename T>
__global__ void uniform_kernel(T* y, int64_t n, uint64_t seed, uint64_t offset, double low,
                               double high) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = static_cast<T>(
        add_mul(low, high - low, philox::uniform(seed, offset, static_cast<uint64_t>(i))));
}

template <typename T>
__global__ void normal_kernel(T* y, int64_t n, uint64_t seed, uint64_t offset, double mean,
                              double stddev) {
  for (int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = static_cast<T>(
        add_mul(mean, stddev, philox::normal(seed, offset, static_cast<uint64_t>(i))));
}

// One thread per element of the box: the linear index is split into coordinates (last
// dimension fastest), which give the source and destination offsets.
template <typename E>
__global__ void strided_copy_kernel(const E* src, E* dst, StridedCopy box, int64_t total) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    int64_t rest = i, s = box.src_offset, d = box.dst_offset;
    for (int dim = box.ndim - 1; dim >= 0; --dim) {
      const int64_t coord = rest % box.extent[dim];
      rest /= box.extent[dim];
      s += coord * box.src_stride[dim];
      d += coord * box.dst_stride[dim];
    }
    dst[d] = src[s];
  }
}

template <typename E>
void launch_strided_copy(const Exec& e, const void* src, void* dst, const StridedCopy& box,
                         int64_t total) {
  const unsigned threads = kernel_threads<strided_copy_kernel<E>>(total, e.block);
  GM_LAUNCH((strided_copy_kernel<E>), blocks_for(total, threads), threads, 0, e.stream)
  (static_cast<const E*>(src), static_cast<E*>(dst), box, total);
}

}  // namespace

template <typename T>
void fill(const Exec& e, T* y, int64_t n, T value) {
  const unsigned threads = kernel_threads<fill_kernel<T>>(n, e.block);
  GM_LAUNCH((fill_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)(y, n, value);
}

template <typename T>
void arange(const Exec& e, T* y, int64_t n) {
  const unsigned threads = kernel_threads<arange_kernel<T>>(n, e.block);
  GM_LAUNCH((arange_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)(y, n);
}

template <typename X, typename Y>
void cast(const Exec& e, const X* x, Y* y, int64_t n) {
  const unsigned threads = kernel_threads<cast_kernel<X, Y>>(n, e.block);
  GM_LAUNCH((cast_kernel<X, Y>), blocks_for(n, threads), threads, 0, e.stream)(x, y, n);
}

template <typename T>
void fill_uniform(const Exec& e, T* y, int64_t n, uint64_t seed, uint64_t offset, double low,
                  double high) {
  const unsigned threads = kernel_threads<uniform_kernel<T>>(n, e.block);
  GM_LAUNCH((uniform_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (y, n, seed, offset, low, high);
}

template <typename T>
void fill_normal(const Exec& e, T* y, int64_t n, uint64_t seed, uint64_t offset, double mean,
                 double stddev) {
  const unsigned threads = kernel_threads<normal_kernel<T>>(n, e.block);
  GM_LAUNCH((normal_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (y, n, seed, offset, mean, stddev);
}

void strided_copy(const Exec& e, int element_bytes, const void* src, void* dst,
                  const StridedCopy& box) {
  int64_t total = 1;
  for (int d = 0; d < box.ndim; ++d)
    total *= box.extent[d];
  if (total == 0) return;
  switch (element_bytes) {
    case 1:
      return launch_strided_copy<uint8_t>(e, src, dst, box, total);
    case 4:
      return launch_strided_copy<uint32_t>(e, src, dst, box, total);
    case 8:
      return launch_strided_copy<uint64_t>(e, src, dst, box, total);
  }
}

#define GM_INSTANTIATE_FILL(T)                                              \
  template void fill<T>(const Exec&, T*, int64_t, T);                       \
  template void arange<T>(const Exec&, T*, int64_t);                        \
  template void cast<T, float>(const Exec&, const T*, float*, int64_t);     \
  template void cast<T, double>(const Exec&, const T*, double*, int64_t);   \
  template void cast<T, uint8_t>(const Exec&, const T*, uint8_t*, int64_t); \
  template void cast<T, int32_t>(const Exec&, const T*, int32_t*, int64_t);
GM_INSTANTIATE_FILL(float)
GM_INSTANTIATE_FILL(double)
GM_INSTANTIATE_FILL(uint8_t)
GM_INSTANTIATE_FILL(int32_t)
#undef GM_INSTANTIATE_FILL
template void fill_uniform<float>(const Exec&, float*, int64_t, uint64_t, uint64_t, double, double);
template void fill_uniform<double>(const Exec&, double*, int64_t, uint64_t, uint64_t, double,
                                   double);
template void fill_normal<float>(const Exec&, float*, int64_t, uint64_t, uint64_t, double, double);
template void fill_normal<double>(const Exec&, double*, int64_t, uint64_t, uint64_t, double,
                                  double);

}  // namespace gm::GM_CUDA_NS

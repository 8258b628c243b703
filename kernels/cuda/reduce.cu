// Sums along one axis of x viewed as [outer, n, inner], accumulated in double like the CPU.
//   inner == 1 (a contiguous row per output): one block per row, a block reduction;
//   inner > 1: one thread per output, walking its column; neighbouring threads read
//   neighbouring addresses, so the loads coalesce.
// And sums over both outer and inner at once (a bias's gradient): one block per output.
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/launch_fused.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename X, typename T>
__global__ void sum_contiguous_rows_kernel(const X* x, T* y, int64_t cols) {
  const X* row = x + static_cast<int64_t>(blockIdx.x) * cols;
  double acc = 0.0;
  for (int64_t k = threadIdx.x; k < cols; k += blockDim.x)
    acc += static_cast<double>(row[k]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) y[blockIdx.x] = static_cast<T>(acc);
}

template <typename T>
__global__ void sum_columns_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t i = global_thread(); i < outer * inner; i += grid_threads()) {
    const int64_t o = i / inner, in = i % inner;
    const T* column = x + o * n * inner + in;
    double acc = 0.0;
    for (int64_t k = 0; k < n; ++k)
      acc += static_cast<double>(column[k * inner]);
    y[i] = static_cast<T>(acc);
  }
}

// y[c] = sum over o and i of x[o, c, i]: block c walks its channel's `outer` slabs of `inner`
// elements, neighbouring threads on neighbouring addresses, in a fixed order.
template <typename T>
__global__ void sum_per_channel_kernel(const T* x, T* y, int64_t outer, int64_t channels,
                                       int64_t inner, int64_t first) {
  const int64_t c = first + blockIdx.x;
  double acc = 0.0;
  for (int64_t j = threadIdx.x; j < outer * inner; j += blockDim.x) {
    const int64_t o = j / inner, i = j - o * inner;
    acc += static_cast<double>(x[(o * channels + c) * inner + i]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) y[c] = static_cast<T>(acc);
}

// One block per row for up to 65535 * 65535 rows: the grid is 2-D when needed.
template <typename X, typename T>
void launch_rows(const Exec& e, const X* x, T* y, int64_t rows, int64_t cols) {
  const unsigned threads = kernel_threads<sum_contiguous_rows_kernel<X, T>>(cols, e.block);
  for (int64_t first = 0; first < rows; first += 65535) {
    const int64_t count = rows - first < 65535 ? rows - first : 65535;
    GM_LAUNCH((sum_contiguous_rows_kernel<X, T>), static_cast<unsigned>(count), threads, 0,
              e.stream)
    (x + first * cols, y + first, cols);
  }
}

}  // namespace

template <typename T>
void sum_axis(const Exec& e, const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return;
  if (inner == 1) return launch_rows(e, x, y, outer, n);
  const unsigned threads = kernel_threads<sum_columns_kernel<T>>(outer * inner, e.block);
  GM_LAUNCH((sum_columns_kernel<T>), blocks_for(outer * inner, threads), threads, 0, e.stream)
  (x, y, outer, n, inner);
}

template <typename T>
void sum_per_channel(const Exec& e, const T* x, T* y, int64_t outer, int64_t channels,
                     int64_t inner) {
  const unsigned threads = kernel_threads<sum_per_channel_kernel<T>>(outer * inner, e.block);
  for (int64_t first = 0; first < channels; first += 65535) {
    const int64_t count = channels - first < 65535 ? channels - first : 65535;
    GM_LAUNCH((sum_per_channel_kernel<T>), static_cast<unsigned>(count), threads, 0, e.stream)
    (x, y, outer, channels, inner, first);
  }
}

template <typename T>
void sum_rows(const Exec& e, const double* x, T* y, int64_t rows, int64_t cols) {
  if (rows > 0) launch_rows(e, x, y, rows, cols);
}

int64_t row_chunks(const Exec& e, int64_t S) {
  const int64_t threads = threads_for(S, e.block);
  const int64_t chunks = (S + threads - 1) / threads;
  return chunks < 1 ? 1 : chunks;
}

template void sum_axis<float>(const Exec&, const float*, float*, int64_t, int64_t, int64_t);
template void sum_axis<double>(const Exec&, const double*, double*, int64_t, int64_t, int64_t);
template void sum_per_channel<float>(const Exec&, const float*, float*, int64_t, int64_t, int64_t);
template void sum_per_channel<double>(const Exec&, const double*, double*, int64_t, int64_t,
                                      int64_t);
template void sum_rows<float>(const Exec&, const double*, float*, int64_t, int64_t);
template void sum_rows<double>(const Exec&, const double*, double*, int64_t, int64_t);

}  // namespace gm::GM_CUDA_NS

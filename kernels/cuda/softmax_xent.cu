// Softmax cross-entropy over V values per position, and categorical sampling, on logits
// [N, V, S]. The forward and the block-wide tile statistics are in softmax_xent.cuh, which the
// kernel lab includes too; the backward uses the same tiles. Sampling: one thread per position
// (n, s), walking its column of V values S elements apart with kernels/common/softmax_math.h
// (it runs once per generated pixel on small batches, where one thread per position suffices).
#include "kernels/common/philox.h"
#include "kernels/cuda/softmax_xent.cuh"

namespace gm::GM_CUDA_NS {

namespace {

// grid (xent_chunks(S), rows), block (32, kXentWarps), as the forward: the tile's statistics,
// then each thread writes the gradients of its values (the column slice it just read, so the
// second read mostly hits L1).
template <typename T, typename Target>
__global__ void __launch_bounds__(32 * kXentWarps)
    xent_backward_kernel(const T* logits, const Target* target, const T* dnll, int64_t V, int64_t S,
                         int64_t first_row, T* dlogits) {
  const int64_t n = first_row + blockIdx.y;
  const int64_t s = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const bool valid = s < S;
  const T* column = logits + n * V * S + (valid ? s : 0);
  const math::SoftmaxStats<T> st = tile_softmax_stats(column, V, S, valid);
  if (!valid) return;
  T* dcolumn = dlogits + n * V * S + s;
  const double inv_sum = 1.0 / st.sum;
  const int64_t t = static_cast<int64_t>(target[n * S + s]);
  const T scale = dnll[n];
  for (int64_t v = threadIdx.y; v < V; v += kXentWarps)
    dcolumn[v * S] = math::softmax_xent_grad(column[v * S], st.max, inv_sum, v == t, scale);
}

// Position (n, s) uses uniform number n * S + s of the draw, as on the CPU.
template <typename T>
__global__ void sample_kernel(const T* logits, int64_t N, int64_t V, int64_t S, double temperature,
                              uint64_t seed, uint64_t offset, int32_t* out) {
  for (int64_t i = global_thread(); i < N * S; i += grid_threads()) {
    const int64_t n = i / S, s = i % S;
    const double u = philox::uniform(seed, offset, static_cast<uint64_t>(i));
    out[i] = math::sample_inverse_cdf(logits + n * V * S + s, V, S, temperature, u);
  }
}

}  // namespace

template <typename T, typename Target>
void softmax_xent_backward(const Exec& e, const T* logits, const Target* target, const T* dnll,
                           int64_t N, int64_t V, int64_t S, T* dlogits) {
  if (N * S == 0) return;
  for (int64_t first = 0; first < N; first += 65535) {  // gridDim.y is at most 65535
    const int64_t rows = N - first < 65535 ? N - first : 65535;
    GM_LAUNCH((xent_backward_kernel<T, Target>),
              dim3(static_cast<unsigned>(xent_chunks(S)), static_cast<unsigned>(rows)),
              dim3(32, kXentWarps), 0, e.stream)
    (logits, target, dnll, V, S, first, dlogits);
  }
}

template <typename T>
void sample_categorical(const Exec& e, const T* logits, int64_t N, int64_t V, int64_t S,
                        double temperature, uint64_t seed, uint64_t offset, int32_t* out) {
  if (N * S == 0) return;
  const unsigned threads = kernel_threads<sample_kernel<T>>(N * S, e.block);
  GM_LAUNCH((sample_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
  (logits, N, V, S, temperature, seed, offset, out);
}

#define GM_INSTANTIATE(T, Target)                                                                \
  template void softmax_xent_forward<T, Target>(const Exec&, const T*, const Target*, int64_t,   \
                                                int64_t, int64_t, double*, T*);                  \
  template void softmax_xent_backward<T, Target>(const Exec&, const T*, const Target*, const T*, \
                                                 int64_t, int64_t, int64_t, T*);
GM_INSTANTIATE(float, uint8_t)
GM_INSTANTIATE(float, int32_t)
GM_INSTANTIATE(double, uint8_t)
GM_INSTANTIATE(double, int32_t)
#undef GM_INSTANTIATE
template void sample_categorical<float>(const Exec&, const float*, int64_t, int64_t, int64_t,
                                        double, uint64_t, uint64_t, int32_t*);
template void sample_categorical<double>(const Exec&, const double*, int64_t, int64_t, int64_t,
                                         double, uint64_t, uint64_t, int32_t*);

}  // namespace gm::GM_CUDA_NS

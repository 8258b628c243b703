// Softmax cross-entropy over V values per position, and categorical sampling, on logits
// [N, V, S]. The forward and the block-wide tile statistics are in softmax_xent.cuh, which the
// kernel lab includes too; the backward uses the same tiles, and when training kept the
// statistics from the forward (the _stats entries) it reads them instead of computing them.
// Sampling: one thread per position (n, s), walking its column of V values S elements apart with
// kernels/common/softmax_math.h (it runs once per generated pixel on small batches, where one
// thread per position suffices).
#include "kernels/common/philox.h"
#include "kernels/cuda/launch_entries.h"
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

// The backward from the statistics the forward kept (stat_max, stat_sum: [N, S]): the same
// tiles and block as xent_backward_kernel, but no reduction, so no shared memory and no
// barrier. The 8 warps of a tile read the same 32 statistics (one 256-byte row each, from L1
// after the first) and each writes the gradients of every 8th value of the 32 columns: one
// read of the logits in all, against three when the statistics are computed again. No
// __launch_bounds__: with it, ptxas (nvcc 13, sm_90) spills 8 bytes in the float64 variant's
// unrolled loop, around exp's slow-path call; without, that variant takes 60 registers and no
// spill, the float one 31 either way.
template <typename T, typename Target>
__global__ void xent_backward_stats_kernel(const T* logits, const Target* target,
                                           const double* stat_max, const double* stat_sum,
                                           const T* dnll, int64_t V, int64_t S, int64_t first_row,
                                           T* dlogits) {
  const int64_t n = first_row + blockIdx.y;
  const int64_t s = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  if (s >= S) return;
  const T* column = logits + n * V * S + s;
  T* dcolumn = dlogits + n * V * S + s;
  const T max = static_cast<T>(stat_max[n * S + s]);  // exact: it was a T
  const double inv_sum = 1.0 / stat_sum[n * S + s];
  const int64_t t = static_cast<int64_t>(target[n * S + s]);
  const T scale = dnll[n];
  for (int64_t v = threadIdx.y; v < V; v += kXentWarps)
    dcolumn[v * S] = math::softmax_xent_grad(column[v * S], max, inv_sum, v == t, scale);
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

// Calls fn(Target{}) with the C++ type of the class targets: uint8 pixels or int32 labels.
template <typename Fn>
void with_target(const TensorView& target, const char* what, Fn&& fn) {
  if (target.dtype == DType::u8)
    fn(uint8_t{});
  else if (target.dtype == DType::i32)
    fn(int32_t{});
  else
    unsupported_dtype(what, "uint8 or int32", target.dtype);
}

// The forward launch of both entries; `stats` (float64 [2, N, S]) may be null.
void xent_forward(const Exec& e, const TensorView& logits, const TensorView& target,
                  TensorView& nll, double* stats, const char* what) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  const int64_t partials = N * xent_chunks(S) > 0 ? N * xent_chunks(S) : 1;
  Scratch partial(*e.scratch, static_cast<size_t>(partials) * sizeof(double));
  with_floating(logits.dtype, what, [&](auto zero) {
    using T = decltype(zero);
    with_target(target, what, [&](auto target_zero) {
      using Target = decltype(target_zero);
      GM_CUDA_NS::softmax_xent_forward<T, Target>(e, logits.data<T>(), target.data<Target>(), N, V,
                                                  S, partial.as<double>(), nll.data<T>(), stats);
    });
  });
}

}  // namespace

namespace launchers {

void softmax_xent_forward_stats(const Exec& e, const Tensor& logits, const Tensor& target,
                                Tensor& nll, Tensor& stats) {
  xent_forward(e, logits, target, nll, stats.data<double>(), "softmax_xent_forward_stats");
}

void softmax_xent_backward_stats(const Exec& e, const Tensor& logits, const Tensor& target,
                                 const Tensor& stats, const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  if (N * S == 0) return;
  const double* stat_max = stats.data<double>();
  with_floating(logits.dtype, "softmax_xent_backward_stats", [&](auto zero) {
    using T = decltype(zero);
    with_target(target, "softmax_xent_backward_stats", [&](auto target_zero) {
      using Target = decltype(target_zero);
      for_each_xent_grid(N, S, [&](dim3 grid, int64_t first) {
        GM_LAUNCH((xent_backward_stats_kernel<T, Target>), grid, dim3(32, kXentWarps), 0, e.stream)
        (logits.data<T>(), target.data<Target>(), stat_max, stat_max + N * S, dnll.data<T>(), V, S,
         first, dlogits.data<T>());
      });
    });
  });
}

void softmax_xent_forward(const Exec& e, const Tensor& logits, const Tensor& target, Tensor& nll) {
  xent_forward(e, logits, target, nll, nullptr, "softmax_xent_forward");
}

void softmax_xent_backward(const Exec& e, const Tensor& logits, const Tensor& target,
                           const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  if (N * S == 0) return;
  with_floating(logits.dtype, "softmax_xent_backward", [&](auto zero) {
    using T = decltype(zero);
    with_target(target, "softmax_xent_backward", [&](auto target_zero) {
      using Target = decltype(target_zero);
      for_each_xent_grid(N, S, [&](dim3 grid, int64_t first) {
        GM_LAUNCH((xent_backward_kernel<T, Target>), grid, dim3(32, kXentWarps), 0, e.stream)
        (logits.data<T>(), target.data<Target>(), dnll.data<T>(), V, S, first, dlogits.data<T>());
      });
    });
  });
}

void sample_categorical(const Exec& e, const Tensor& logits, double temperature, uint64_t seed,
                        uint64_t offset, Tensor& out) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  if (N * S == 0) return;
  with_floating(logits.dtype, "sample_categorical", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<sample_kernel<T>>(N * S, e.block);
    GM_LAUNCH((sample_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
    (logits.data<T>(), N, V, S, temperature, seed, offset, out.data<int32_t>());
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS

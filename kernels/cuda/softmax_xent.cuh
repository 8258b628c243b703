#pragma once
// The library's softmax cross-entropy forward (and the tile statistics its backward shares), in
// one header so that two programs launch the SAME source: kernels/cuda/softmax_xent.cu (the
// backend's softmax_xent_forward<T, Target> and backward) and the kernel lab
// (benchmarks/lab/softmax_xent_versions.cuh, version xent_v5_library), which validates it
// against a double reference and, on a GPU, times it beside v1-v4.
//
// Logits [N, V, S], targets [N, S] -> nll [N] (summed over positions). A block of kXentWarps
// warps takes a tile of 32 neighbouring positions (n, s0 .. s0 + 31): lane l is position s0 + l,
// so every load of a warp is one coalesced 128-byte row, and warp w takes the values
// v = w, w + kXentWarps, ... of those columns. One thread per position (the previous version)
// left a 256-long serial chain per thread and, at pixelcnn-ref's 25,088 positions, a tenth of an
// H100's thread slots busy; here each position has kXentWarps threads and the chains are 32
// long. The warps' partial maxima and sums meet in shared memory and are combined in warp order
// (the same bits every run). Formulas: kernels/common/softmax_math.h, max in T, sum of
// exp(x - max) in double, as on the CPU (which sums in v order, so the two agree to rounding).
// Each block reduces its 32 terms to one partial sum per image; sum_rows adds the partials.
// Training keeps each position's statistics (max, sum) from the forward: warp 0, whose lanes
// are the tile's positions, writes them as two coalesced 32-wide rows, and the backward
// (softmax_xent.cu) then reads the logits once instead of three times.
#include "kernels/common/softmax_math.h"
#include "kernels/cuda/row_sum.cuh"

namespace gm::GM_CUDA_NS {

inline constexpr int kXentWarps = 8;

// The softmax statistics of position s0 + threadIdx.x (`valid` when it exists) of image n,
// computed by the whole block and returned to every thread of the position. Every thread of the
// block must call it (barriers).
template <typename T>
__device__ math::SoftmaxStats<T> tile_softmax_stats(const T* column, int64_t V, int64_t S,
                                                    bool valid) {
  __shared__ T max_part[kXentWarps][32];
  __shared__ double sum_part[kXentWarps][32];
  const unsigned lane = threadIdx.x, warp = threadIdx.y;
  T m = valid ? column[0] : T(0);
  if (valid)
    for (int64_t v = warp; v < V; v += kXentWarps)
      m = math::max_of(m, column[v * S]);
  max_part[warp][lane] = m;
  __syncthreads();
  GM_UNROLL
  for (int w = 0; w < kXentWarps; ++w)
    m = math::max_of(m, max_part[w][lane]);
  double sum = 0.0;
  if (valid)
    for (int64_t v = warp; v < V; v += kXentWarps)
      sum += static_cast<double>(math::softmax_term(column[v * S], m));
  sum_part[warp][lane] = sum;
  __syncthreads();
  sum = 0.0;
  GM_UNROLL
  for (int w = 0; w < kXentWarps; ++w)
    sum += sum_part[w][lane];
  __syncthreads();  // the parts may be overwritten by a later call
  return {m, sum};
}

// grid (xent_chunks(S), rows), block (32, kXentWarps): partial[n, chunk] = sum of the tile's
// per-position terms lse - x_target; with `stat_max` and `stat_sum` (both [N, S], or null) each
// position's statistics too.
template <typename T, typename Target>
__global__ void __launch_bounds__(32 * kXentWarps)
    xent_partials_kernel(const T* logits, const Target* target, int64_t V, int64_t S,
                         int64_t first_row, double* partial, double* stat_max, double* stat_sum) {
  const int64_t n = first_row + blockIdx.y;
  const int64_t s = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const bool valid = s < S;
  const T* column = logits + n * V * S + (valid ? s : 0);
  const math::SoftmaxStats<T> st = tile_softmax_stats(column, V, S, valid);
  if (threadIdx.y != 0) return;  // warp 0 finishes; no barrier follows
  double term = 0.0;
  if (valid) {
    const int64_t t = static_cast<int64_t>(target[n * S + s]);
    term = math::log_sum_exp(st) - static_cast<double>(column[t * S]);
    if (stat_max) {  // a T max is exact as a double
      stat_max[n * S + s] = static_cast<double>(st.max);
      stat_sum[n * S + s] = st.sum;
    }
  }
  term = warp_sum(term);
  if (threadIdx.x == 0) partial[n * gridDim.x + blockIdx.x] = term;
}

// Calls launch(grid, first_row) for every launch that the tiles of N images x S positions need:
// grid (xent_chunks(S), rows) with block (32, kXentWarps); gridDim.y is at most 65535, so more
// images take several launches. The forward and both backwards tile alike.
template <typename Launch>
void for_each_xent_grid(int64_t N, int64_t S, Launch&& launch) {
  for (int64_t first = 0; first < N; first += 65535) {
    const int64_t rows = N - first < 65535 ? N - first : 65535;
    launch(dim3(static_cast<unsigned>(xent_chunks(S)), static_cast<unsigned>(rows)), first);
  }
}

// `partial` holds N * xent_chunks(S) doubles; `stats`, when not null, receives the float64
// [2, N, S] statistics of every position (the max, then the sum of exp(x - max)).
template <typename T, typename Target>
void softmax_xent_forward(const Exec& e, const T* logits, const Target* target, int64_t N,
                          int64_t V, int64_t S, double* partial, T* nll, double* stats = nullptr) {
  if (N == 0) return;
  if (S == 0) {  // no positions: every image's sum is zero
    fill<T>(e, nll, N, T(0));
    return;
  }
  for_each_xent_grid(N, S, [&](dim3 grid, int64_t first) {
    GM_LAUNCH((xent_partials_kernel<T, Target>), grid, dim3(32, kXentWarps), 0, e.stream)
    (logits, target, V, S, first, partial, stats, stats ? stats + N * S : nullptr);
  });
  sum_rows<T>(e, partial, nll, N, xent_chunks(S));
}

}  // namespace gm::GM_CUDA_NS

#pragma once
// Softmax cross-entropy over V classes per position (V = 256 for 8-bit pixels), from naive to
// fast. Layout as in the library: logits [N, V, S] (S = positions per image, e.g. H*W), targets
// [N, S] as uint8; output loss[n*S + s] = logsumexp_v(logits[n, :, s]) - logits[n, t, s].
// v1-v3: all arithmetic is fp32 with the maximum subtracted before exp, so nothing overflows.
// v4 (the library's former forward) and v5 (the library's own, included from
// kernels/cuda/softmax_xent.cuh, which kernels/cuda/softmax_xent.cu instantiates, so lab and
// library cannot drift) compute what the library's op returns, the per-image sum
// nll[n] = sum_s loss[n*S + s], fused.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "benchmarks/lab/lab_platform.h"
#include "kernels/cuda/softmax_xent.cuh"

namespace gm::lab {

// v1 one thread per position, two passes: the max over the column, then the sum of exp(x - max).
// Neighbouring threads take neighbouring s, so each step of the column walk reads one coalesced
// row. Every logit is read twice from global memory. Lesson: coalescing by layout, and that a
// memory-bound kernel is timed in bytes moved.
__global__ void xent_v1_two_pass(int N, int V, int S, const float* logits, const uint8_t* target,
                                 float* loss) {
  const int p = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (p >= N * S) return;
  const int n = p / S, s = p % S;
  const float* column = logits + static_cast<int64_t>(n) * V * S + s;
  float m = column[0];
  for (int v = 1; v < V; ++v)
    m = fmaxf(m, column[v * S]);
  float sum = 0.0f;
  for (int v = 0; v < V; ++v)
    sum += expf(column[v * S] - m);
  loss[p] = m + logf(sum) - column[target[p] * S];
}

// v2 one thread per position, ONE pass ("online softmax"): keep a running max and rescale the
// running sum whenever the max grows. Global reads halve compared with v1 (plus the target
// logit, which is usually in cache). Lesson: for memory-bound kernels, fuse passes.
__global__ void xent_v2_online(int N, int V, int S, const float* logits, const uint8_t* target,
                               float* loss) {
  const int p = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (p >= N * S) return;
  const int n = p / S, s = p % S;
  const float* column = logits + static_cast<int64_t>(n) * V * S + s;
  float m = column[0], sum = 1.0f;
  for (int v = 1; v < V; ++v) {
    const float x = column[v * S];
    if (x > m) {
      sum = sum * expf(m - x) + 1.0f;
      m = x;
    } else {
      sum += expf(x - m);
    }
  }
  loss[p] = m + logf(sum) - column[target[p] * S];
}

// v3 one warp per position with shuffle reductions: each lane runs the online softmax over
// v = lane, lane + 32, ..., then the 32 partial (max, sum) pairs are merged with __shfl_xor_sync
// butterflies, so every lane ends with the full result. This wins when there are few positions
// and/or the V values of a position are contiguous (S = 1: a warp reads 32 consecutive floats);
// with large S a lane's reads are S floats apart and do not coalesce, and v2 is the right choice.
// Lesson: pick the parallel axis by the layout and by how much parallelism there is.
__global__ void xent_v3_warp(int N, int V, int S, const float* logits, const uint8_t* target,
                             float* loss) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int p = static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (p >= N * S) return;  // uniform across the warp: all 32 lanes share p
  const int n = p / S, s = p % S;
  const float* column = logits + static_cast<int64_t>(n) * V * S + s;
  float m = -INFINITY, sum = 0.0f;
  for (int v = lane; v < V; v += 32) {
    const float x = column[v * S];
    if (x > m) {
      sum = sum * expf(m - x) + 1.0f;  // expf(-inf) = 0 on the first value
      m = x;
    } else {
      sum += expf(x - m);
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float m_other = __shfl_xor_sync(0xffffffffu, m, offset);
    const float sum_other = __shfl_xor_sync(0xffffffffu, sum, offset);
    const float m_new = fmaxf(m, m_other);
    // A lane that saw no values (V < 32) has m = -inf and sum = 0: skip its rescale (-inf - -inf
    // would be NaN).
    sum = (sum > 0.0f ? sum * expf(m - m_new) : 0.0f) +
          (sum_other > 0.0f ? sum_other * expf(m_other - m_new) : 0.0f);
    m = m_new;
  }
  if (lane == 0) loss[p] = m + logf(sum) - column[target[p] * S];
}

inline void xent_v1(int N, int V, int S, const float* logits, const uint8_t* target, float* loss) {
  const int positions = N * S;
  GM_LAUNCH(xent_v1_two_pass, dim3((positions + 127) / 128), dim3(128), 0, nullptr)
  (N, V, S, logits, target, loss);
}
inline void xent_v2(int N, int V, int S, const float* logits, const uint8_t* target, float* loss) {
  const int positions = N * S;
  GM_LAUNCH(xent_v2_online, dim3((positions + 127) / 128), dim3(128), 0, nullptr)
  (N, V, S, logits, target, loss);
}
inline void xent_v3(int N, int V, int S, const float* logits, const uint8_t* target, float* loss) {
  const int warps_per_block = 4;
  const int positions = N * S;
  GM_LAUNCH(xent_v3_warp, dim3((positions + warps_per_block - 1) / warps_per_block),
            dim3(32 * warps_per_block), 0, nullptr)
  (N, V, S, logits, target, loss);
}

// v4 the library's former forward: v1's layout (one thread per position, neighbouring threads
// on neighbouring s), two passes over the column, but the sum of exp(x - max) in double
// (kernels/common/softmax_math.h, the CPU backend's formula), and the per-position losses are
// never stored: each block reduces its positions' terms in shared memory into one partial sum
// per image, and a second small kernel adds the partials (row_sum.cuh). Lesson: fusing the loss
// reduction saves writing and re-reading an [N, S] array; the double sum is paid for in
// exactness, to be read off the GPU timings.
template <typename T, typename Target>
struct XentThreadTerm {
  const T* logits;
  const Target* target;
  int64_t V, S;
  __device__ double operator()(int64_t n, int64_t s) const {
    const T* column = logits + n * V * S + s;
    const math::SoftmaxStats<T> st = math::softmax_stats(column, V, S);
    const int64_t t = static_cast<int64_t>(target[n * S + s]);
    return math::log_sum_exp(st) - static_cast<double>(column[t * S]);
  }
};

using PartialScratch = DeviceScratch<double>;  // the partial sums per image

inline void xent_v4(int N, int V, int S, const float* logits, const uint8_t* target, float* nll) {
  namespace lib = ::gm::GM_CUDA_NS;
  const lib::Exec e{};
  static PartialScratch partial;
  const size_t needed = static_cast<size_t>(N) * static_cast<size_t>(lib::row_chunks(e, S));
  lib::row_sums(e, XentThreadTerm<float, uint8_t>{logits, target, V, S}, N, S,
                partial.at_least(needed), nll);
}

// v5 the library's forward (kernels/cuda/softmax_xent.cuh): a block of 8 warps per tile of 32
// neighbouring positions. Lanes are positions (v4's coalescing), warps split the 256 values of
// each column and meet in shared memory, so each position has 8 threads and the serial chains
// are 32 long instead of 256; at pixelcnn-ref's 25,088 positions per batch that is 200,704
// threads instead of 25,088 (an H100 holds 270,336). The backward uses the same tiles.
// Lesson: when one thread per item leaves the GPU idle, split the item's reduction across
// warps along the axis that keeps loads coalesced.
inline void xent_v5(int N, int V, int S, const float* logits, const uint8_t* target, float* nll) {
  namespace lib = ::gm::GM_CUDA_NS;
  const lib::Exec e{};
  static PartialScratch partial;
  const size_t needed = static_cast<size_t>(N) * static_cast<size_t>(lib::xent_chunks(S));
  lib::softmax_xent_forward<float, uint8_t>(e, logits, target, N, V, S, partial.at_least(needed),
                                            nll);
}

// v6 the library's training forward (the same kernel, softmax_xent_forward with `stats`): v5
// that also writes each position's max and sum of exp(x - max), float64 [2, N, S], for the
// backward. Warp 0's lanes are the tile's positions, so the two writes are coalesced 256-byte
// rows: 16 bytes per position against the 1 KiB of logits it read. The backward
// (xent_backward_stats_kernel) then reads the logits once, for the gradient, instead of three
// times (max, sum, gradient) and has no barrier left. Lesson: a reduction the backward needs
// again is cheaper to store than to recompute when it is tiny next to its input.
inline void xent_v6(int N, int V, int S, const float* logits, const uint8_t* target, float* nll) {
  namespace lib = ::gm::GM_CUDA_NS;
  const lib::Exec e{};
  static PartialScratch partial, stats;
  const size_t needed = static_cast<size_t>(N) * static_cast<size_t>(lib::xent_chunks(S));
  double* kept = stats.at_least(2 * static_cast<size_t>(N) * static_cast<size_t>(S));
  lib::softmax_xent_forward<float, uint8_t>(e, logits, target, N, V, S, partial.at_least(needed),
                                            nll, kept);
}

// The versions the library launches (docs/kernel-lab.md): by construction, v5 (inference) and v6
// (training, statistics kept). For the library's layout with S = H*W >= 32 per image, an online
// (one-pass, fp32) variant of v5 would halve its DRAM reads at the price of exact parity with the
// CPU backend; see the doc.
inline void xent_library(int N, int V, int S, const float* logits, const uint8_t* target,
                         float* nll) {
  xent_v5(N, V, S, logits, target, nll);
}
inline void xent_library_training(int N, int V, int S, const float* logits, const uint8_t* target,
                                  float* nll) {
  xent_v6(N, V, S, logits, target, nll);
}

}  // namespace gm::lab

#pragma once
// Per-image sums of per-position terms, out[n] = sum_s term(n, s), the shape of every loss
// forward (softmax cross-entropy, KL, Bernoulli, discretized logistic). Deterministic, in
// double, in two passes:
//   1. grid (chunks, N): each block evaluates term(n, s) for blockDim.x positions, one per
//      thread, and reduces them: partial[n, chunk];
//   2. sum_rows: one block per image adds its chunks.
// No atomics, so the result does not depend on the order blocks run in.
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/launch_fused.h"

namespace gm::GM_CUDA_NS {

// Term: a trivially copyable struct with `__device__ double operator()(int64_t n, int64_t s)`.
template <typename Term>
__global__ void row_partials_kernel(Term term, int64_t S, int64_t first_row, double* partial) {
  const int64_t n = first_row + blockIdx.y;
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  double v = s < S ? term(n, s) : 0.0;
  v = block_sum(v);
  if (threadIdx.x == 0) partial[n * gridDim.x + blockIdx.x] = v;
}

template <typename T, typename Term>
void row_sums(const Exec& e, const Term& term, int64_t N, int64_t S, double* partial, T* out) {
  if (N == 0) return;
  const int64_t chunks = row_chunks(e, S);
  const unsigned threads = threads_for(S, e.block);
  for (int64_t first = 0; first < N; first += 65535) {  // gridDim.y is at most 65535
    const int64_t rows = N - first < 65535 ? N - first : 65535;
    GM_LAUNCH((row_partials_kernel<Term>),
              dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(rows)), threads, 0,
              e.stream)
    (term, S, first, partial);
  }
  sum_rows<T>(e, partial, out, N, chunks);
}

// The same with the partial sums in a scratch buffer from e.scratch (the backend's allocator).
template <typename T, typename Term>
void row_sums(const Exec& e, const Term& term, int64_t N, int64_t S, T* out) {
  Scratch partial(*e.scratch, static_cast<size_t>(N * row_chunks(e, S)) * sizeof(double));
  row_sums(e, term, N, S, partial.as<double>(), out);
}

}  // namespace gm::GM_CUDA_NS

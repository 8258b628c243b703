#pragma once
// The library's former GEMM (until the vectorised, double-buffered kernels/cuda/gemm_tiled.cuh),
// kept as the kernel lab's gemm_v4_tiled.
//
// A shared-memory tiled kernel with a register micro-tile per thread: row-major
// C = alpha op(A) op(B) + beta C, batched. Each block computes a BM x BN tile of C. It walks K in
// steps of BK: the block loads the BM x BK slice of op(A) and the BK x BN slice of op(B) into
// shared memory (coalesced: the threads of a warp read consecutive addresses of whichever matrix
// layout they face), waits, and then each thread accumulates its own TM x TN outputs from
// registers. Shared tiles are stored k-major, so the inner loop reads a column of A's tile and a
// row of B's tile. Each output is one accumulator over k = 0, 1, ..., K-1 in order (the lab's
// v1-v3 add the same products in the same order, so all agree bit for bit).
//
// On a real GPU cuBLAS is the backend's fast path (backend_math.cpp); this kernel runs in the
// emulated backend and wherever cuBLAS is switched off (CudaGemm::tiled*).
#include "benchmarks/lab/lab_platform.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::lab {

using GM_CUDA_NS::Exec;
using GM_CUDA_NS::GemmTile;

template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    gemm_v4_kernel(Gemm s, T alpha, const T* a, const T* b, T beta, T* c) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr int kLoadsA = BM * BK / kThreads, kLoadsB = BK * BN / kThreads;
  static_assert(kLoadsA * kThreads == BM * BK && kLoadsB * kThreads == BK * BN,
                "every thread loads the same number of tile elements");
  __shared__ T a_tile[BK][BM];  // a_tile[k][m] = op(A)[m0 + m, k0 + k]
  __shared__ T b_tile[BK][BN];  // b_tile[k][n] = op(B)[k0 + k, n0 + n]

  const int64_t batch = blockIdx.z;
  a += batch * s.stride_a;
  b += batch * s.stride_b;
  c += batch * s.stride_c;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const int tid = static_cast<int>(threadIdx.x);
  const int row = tid / (BN / TN) * TM, col = tid % (BN / TN) * TN;  // this thread's micro-tile

  // The tile positions a thread loads are the same at every K step; only k moves. op(A) is
  // A [M, K] or, transposed, A [K, M] (op(B): B [K, N] or B [N, K]): consecutive threads take
  // consecutive addresses of whichever layout it is, so a warp's loads coalesce.
  int a_m[kLoadsA], a_k[kLoadsA], b_n[kLoadsB], b_k[kLoadsB];
  GM_UNROLL
  for (int l = 0; l < kLoadsA; ++l) {
    const int i = tid + l * kThreads;
    a_m[l] = s.trans_a ? i % BM : i / BK;
    a_k[l] = s.trans_a ? i / BM : i % BK;
  }
  GM_UNROLL
  for (int l = 0; l < kLoadsB; ++l) {
    const int i = tid + l * kThreads;
    b_n[l] = s.trans_b ? i / BK : i % BN;
    b_k[l] = s.trans_b ? i % BK : i / BN;
  }

  T acc[TM][TN];
  GM_UNROLL
  for (int i = 0; i < TM; ++i)
    GM_UNROLL
  for (int j = 0; j < TN; ++j)
    acc[i][j] = T(0);

  for (int64_t k0 = 0; k0 < s.k; k0 += BK) {
    GM_UNROLL
    for (int l = 0; l < kLoadsA; ++l) {  // out-of-range elements load as zero
      const int64_t gm = m0 + a_m[l], gk = k0 + a_k[l];
      const bool inside = gm < s.m && gk < s.k;
      a_tile[a_k[l]][a_m[l]] = inside ? a[s.trans_a ? gk * s.m + gm : gm * s.k + gk] : T(0);
    }
    GM_UNROLL
    for (int l = 0; l < kLoadsB; ++l) {
      const int64_t gn = n0 + b_n[l], gk = k0 + b_k[l];
      const bool inside = gn < s.n && gk < s.k;
      b_tile[b_k[l]][b_n[l]] = inside ? b[s.trans_b ? gn * s.k + gk : gk * s.n + gn] : T(0);
    }
    __syncthreads();
    GM_UNROLL
    for (int kk = 0; kk < BK; ++kk) {
      T av[TM], bv[TN];
      GM_UNROLL
      for (int i = 0; i < TM; ++i)
        av[i] = a_tile[kk][row + i];
      GM_UNROLL
      for (int j = 0; j < TN; ++j)
        bv[j] = b_tile[kk][col + j];
      GM_UNROLL
      for (int i = 0; i < TM; ++i)
        GM_UNROLL
      for (int j = 0; j < TN; ++j)
        acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();  // before the next slice overwrites the tiles
  }

  GM_UNROLL
  for (int i = 0; i < TM; ++i) {
    GM_UNROLL
    for (int j = 0; j < TN; ++j) {
      const int64_t gm = m0 + row + i, gn = n0 + col + j;
      if (gm >= s.m || gn >= s.n) continue;
      T* out = c + gm * s.n + gn;
      // beta == 0 never reads C: it may hold garbage (even NaN) by contract.
      *out = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *out;
    }
  }
}

template <typename T, int BM, int BN, int BK, int TM, int TN>
void launch_gemm_v4(const Exec& e, const Gemm& s, T alpha, const T* a, const T* b, T beta, T* c) {
  const unsigned threads = (BM / TM) * (BN / TN);
  const dim3 tiles(static_cast<unsigned>((s.n + BN - 1) / BN),
                   static_cast<unsigned>((s.m + BM - 1) / BM));
  // gridDim.z is at most 65535: larger batches go in several launches.
  for (int64_t first = 0; first < s.batch; first += 65535) {
    const int64_t count = s.batch - first < 65535 ? s.batch - first : 65535;
    GM_LAUNCH((gemm_v4_kernel<T, BM, BN, BK, TM, TN>),
              dim3(tiles.x, tiles.y, static_cast<unsigned>(count)), threads, 0, e.stream)
    (s, alpha, a + first * s.stride_a, b + first * s.stride_b, beta, c + first * s.stride_c);
  }
}

template <typename T>
void gemm_v4_tiled(const Exec& e, GemmTile tile, const Gemm& s, T alpha, const T* a, const T* b,
                   T beta, T* c) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  if (tile == GemmTile::t64)
    launch_gemm_v4<T, 64, 64, 16, 4, 4>(e, s, alpha, a, b, beta, c);
  else
    launch_gemm_v4<T, 32, 32, 8, 4, 4>(e, s, alpha, a, b, beta, c);
}

}  // namespace gm::lab

#pragma once
// GEMM, C[M, N] = A[M, K] * B[K, N] (row-major fp32), from naive to fast. Each version is one
// lesson; the lab driver (lab.cpp) validates all of them against a double-precision reference
// and, on a real GPU, times them beside cuBLAS. v4 is the library's former kernel
// (gemm_tiled_v4.cuh); v5 is the library's own, included from kernels/cuda/gemm_tiled.cuh (the
// header kernels/cuda/gemm.cu instantiates): lab and library launch one source and cannot drift.
//
// Versions 1-5 accumulate each output with ONE fp32 accumulator over k = 0, 1, ..., K-1 in
// order, so they give bit-identical results: they differ only in where operands come from, never
// in arithmetic. v6 and v7, the tensor-core kernel (kernels/cuda/gemm_mma.cuh), change the
// arithmetic: inputs rounded to TF32 or BF16, products summed by mma.sync; they are validated
// against a bound that includes the input rounding.
#include "benchmarks/lab/gemm_tiled_v4.cuh"
#include "benchmarks/lab/lab_platform.h"
#include "kernels/cuda/gemm_mma.cuh"
#include "kernels/cuda/gemm_tiled.cuh"

namespace gm::lab {

// v1 naive: one thread per output. Each thread streams a row of A and a column of B from
// global memory, so every input element is read M (or N) times: arithmetic intensity ~0.25
// FLOP/byte, firmly memory-bound. Lesson: global memory traffic, not FLOPs, is the limit.
__global__ void gemm_v1_naive(int M, int N, int K, const float* a, const float* b, float* c) {
  const int col = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (row >= M || col >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k)
    acc += a[row * K + k] * b[k * N + col];
  c[row * N + col] = acc;
}

// v2 shared-memory tiles: a 16x16 block cooperatively loads a 16x16 tile of A and of B into
// shared memory (coalesced: a warp reads consecutive columns), synchronises, and every thread
// reuses the tiles 16 times. Global traffic drops 16x. Lesson: data reuse through shared memory
// and the two barriers (after the load; before the next load overwrites the tile).
constexpr int kV2Tile = 16;
__global__ void gemm_v2_shared(int M, int N, int K, const float* a, const float* b, float* c) {
  __shared__ float a_tile[kV2Tile][kV2Tile];
  __shared__ float b_tile[kV2Tile][kV2Tile];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int col = static_cast<int>(blockIdx.x) * kV2Tile + tx;
  const int row = static_cast<int>(blockIdx.y) * kV2Tile + ty;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kV2Tile) {
    // Out-of-range elements load as zero, which adds exact zeros to the accumulator.
    a_tile[ty][tx] = row < M && k0 + tx < K ? a[row * K + k0 + tx] : 0.0f;
    b_tile[ty][tx] = k0 + ty < K && col < N ? b[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    GM_LAB_UNROLL
    for (int kk = 0; kk < kV2Tile; ++kk)
      acc += a_tile[ty][kk] * b_tile[kk][tx];
    __syncthreads();
  }
  if (row < M && col < N) c[row * N + col] = acc;
}

// v3 register-blocked 2D tiles: a block of 256 threads computes a
// 64x64 tile of C; each thread owns a 4x4 micro-tile in registers. Per k step a thread loads
// 4 values of A and 4 of B from shared memory and does 16 FMAs, so shared-memory bandwidth stops
// being the limit (v2 does 2 shared loads per FMA). Tiles are stored k-major so the inner loop
// reads a column of A's tile and a row of B's tile. Lesson: register blocking / instruction-level
// parallelism; the structure of the library's 64x64 tiling (v4).
constexpr int kV3BM = 64, kV3BN = 64, kV3BK = 16, kV3TM = 4, kV3TN = 4;
constexpr int kV3Threads = (kV3BM / kV3TM) * (kV3BN / kV3TN);
__global__ void __launch_bounds__(kV3Threads)
    gemm_v3_register(int M, int N, int K, const float* a, const float* b, float* c) {
  __shared__ float a_tile[kV3BK][kV3BM];  // a_tile[k][m] = A[m0 + m, k0 + k]
  __shared__ float b_tile[kV3BK][kV3BN];  // b_tile[k][n] = B[k0 + k, n0 + n]
  const int tid = static_cast<int>(threadIdx.x);
  const int m0 = static_cast<int>(blockIdx.y) * kV3BM, n0 = static_cast<int>(blockIdx.x) * kV3BN;
  const int row = tid / (kV3BN / kV3TN) * kV3TM, col = tid % (kV3BN / kV3TN) * kV3TN;
  float acc[kV3TM][kV3TN];
  GM_LAB_UNROLL
  for (int i = 0; i < kV3TM; ++i)
    GM_LAB_UNROLL
  for (int j = 0; j < kV3TN; ++j)
    acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += kV3BK) {
    // 64x16 elements of each tile, 4 per thread; consecutive threads take consecutive k of A
    // (A's rows are contiguous in k) and consecutive n of B, so loads coalesce.
    GM_LAB_UNROLL
    for (int l = 0; l < kV3BM * kV3BK / kV3Threads; ++l) {
      const int i = tid + l * kV3Threads;
      const int am = i / kV3BK, ak = i % kV3BK;
      a_tile[ak][am] = m0 + am < M && k0 + ak < K ? a[(m0 + am) * K + k0 + ak] : 0.0f;
      const int bk = i / kV3BN, bn = i % kV3BN;
      b_tile[bk][bn] = k0 + bk < K && n0 + bn < N ? b[(k0 + bk) * N + n0 + bn] : 0.0f;
    }
    __syncthreads();
    GM_LAB_UNROLL
    for (int kk = 0; kk < kV3BK; ++kk) {
      float av[kV3TM], bv[kV3TN];
      GM_LAB_UNROLL
      for (int i = 0; i < kV3TM; ++i)
        av[i] = a_tile[kk][row + i];
      GM_LAB_UNROLL
      for (int j = 0; j < kV3TN; ++j)
        bv[j] = b_tile[kk][col + j];
      GM_LAB_UNROLL
      for (int i = 0; i < kV3TM; ++i)
        GM_LAB_UNROLL
      for (int j = 0; j < kV3TN; ++j)
        acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
  GM_LAB_UNROLL
  for (int i = 0; i < kV3TM; ++i)
    GM_LAB_UNROLL
  for (int j = 0; j < kV3TN; ++j)
    if (m0 + row + i < M && n0 + col + j < N) c[(m0 + row + i) * N + n0 + col + j] = acc[i][j];
}

// Host launchers, one per version, all with the same signature so the driver can loop.
inline void gemm_v1(int M, int N, int K, const float* a, const float* b, float* c) {
  const dim3 block(16, 16);
  const dim3 grid((N + 15) / 16, (M + 15) / 16);
  GM_LAUNCH(gemm_v1_naive, grid, block, 0, nullptr)(M, N, K, a, b, c);
}
inline void gemm_v2(int M, int N, int K, const float* a, const float* b, float* c) {
  const dim3 block(kV2Tile, kV2Tile);
  const dim3 grid((N + kV2Tile - 1) / kV2Tile, (M + kV2Tile - 1) / kV2Tile);
  GM_LAUNCH(gemm_v2_shared, grid, block, 0, nullptr)(M, N, K, a, b, c);
}
inline void gemm_v3(int M, int N, int K, const float* a, const float* b, float* c) {
  const dim3 grid((N + kV3BN - 1) / kV3BN, (M + kV3BM - 1) / kV3BM);
  GM_LAUNCH(gemm_v3_register, grid, dim3(kV3Threads), 0, nullptr)(M, N, K, a, b, c);
}

// v4 the library's former kernel (gemm_tiled_v4.cuh): v3's register-blocked tiling,
// generalised to what the backend needs (transposed operands, batches in gridDim.z, alpha and
// beta, fp64), in a 64x64 (256 threads) or 32x32 (64 threads) tiling picked by the backend's
// rule, default_gemm_tile. Lesson: what generality costs over v3 (index arithmetic for the
// transposes, 64-bit offsets), and that scalar loads into an unpadded k-major tile serialise
// the shared-memory stores (16 threads of a warp hit one bank).
inline ::gm::Gemm plain_gemm(int M, int N, int K) {
  ::gm::Gemm s;
  s.m = M;
  s.n = N;
  s.k = K;
  return s;
}
inline void gemm_v4(int M, int N, int K, const float* a, const float* b, float* c) {
  gemm_v4_tiled<float>(Exec{}, GM_CUDA_NS::default_gemm_tile(M, N), plain_gemm(M, N, K), 1.0f, a, b,
                       0.0f, c);
}

// v5 the library's kernel (kernels/cuda/gemm_tiled.cuh): v4 plus 16-byte global loads where
// the leading dimension allows, double-buffered shared tiles (the next K slice is in flight
// while this one is multiplied; one barrier per slice), padded rows (2-way instead of 16-way
// bank conflicts on the transposing stores, 16-byte shared loads in the inner loop). Launched
// through the library's own launcher with its launch configuration. Lesson: once the
// arithmetic is register-blocked, the remaining time is in feeding it: load width, latency
// hiding and bank conflicts, read off the GPU timings against v4 and cuBLAS.
inline void gemm_v5(int M, int N, int K, const float* a, const float* b, float* c) {
  namespace lib = ::gm::GM_CUDA_NS;
  lib::gemm_tiled<float>(lib::Exec{}, lib::default_gemm_tile(M, N), plain_gemm(M, N, K), 1.0f, a, b,
                         0.0f, c);
}

// v6 / v7 the library's tensor-core kernel (kernels/cuda/gemm_mma.cuh, GM_CUDA_GEMM=tensor):
// the same tile loop as v5, but each warp hands 16x8x8 (TF32) or 16x8x16 (BF16) products to
// mma.sync instead of 64 threads' worth of FMAs. A block of 4 warps computes a 64x64 tile;
// inputs are rounded once, on their way into shared memory, whose padded rows make the
// fragment reads conflict-free. Lesson: the tensor cores multiply 8x (TF32) to 16x (BF16) the
// FP32 peak, and once the math is that cheap the kernel is a data-movement problem; and reduced
// precision is a numerical decision, validated against a bound that includes the rounding.
inline void gemm_v6(int M, int N, int K, const float* a, const float* b, float* c) {
  namespace lib = ::gm::GM_CUDA_NS;
  lib::gemm_mma<lib::MmaInput::tf32>(lib::Exec{}, plain_gemm(M, N, K), 1.0f, a, b, 0.0f, c);
}
inline void gemm_v7(int M, int N, int K, const float* a, const float* b, float* c) {
  namespace lib = ::gm::GM_CUDA_NS;
  lib::gemm_mma<lib::MmaInput::bf16>(lib::Exec{}, plain_gemm(M, N, K), 1.0f, a, b, 0.0f, c);
}
// The version the library launches (docs/kernel-lab.md) in full precision: by construction,
// v5. With GM_CUDA_GEMM=tensor it launches v6 (v7 under --precision bf16).
inline void gemm_library(int M, int N, int K, const float* a, const float* b, float* c) {
  gemm_v5(M, N, K, a, b, c);
}

}  // namespace gm::lab

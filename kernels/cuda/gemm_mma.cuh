#pragma once
// The tensor-core GEMM and its launcher, in one header like gemm_tiled.cuh: gemm.cu
// instantiates it for the backend, the kernel lab includes it as its last GEMM version.
//
// Row-major C = alpha op(A) op(B) + beta C in float32, batched, with op(A) and op(B) rounded
// to TF32 or BF16 (to nearest, ties to even) and products summed in float32 by mma.sync
// (mma.cuh). Structure:
//
// - A block of 128 threads (4 warps) computes a 64 x 64 tile of C; each warp a 32 x 32 quarter,
//   as 2 x 4 mma tiles of 16 x 8, so one A fragment serves 4 mmas and one B fragment 2.
// - K in slices of 16 through double-buffered shared tiles, fetched as in gemm_tiled.cuh
//   (groups of 4 along the operand's contiguous dimension, one 16-byte load where the layout
//   allows). The rounding happens once per element, when the slice is stored into shared
//   memory, not once per fragment read.
// - Shared tiles are laid out for the fragment reads: A as [m][k] with rows of 16 + 4 floats,
//   B as [k][n] with rows of 64 + 8. A TF32 A fragment read (lane (g, t) reads row g, column t)
//   then hits bank (20 g + t) mod 32, all different; a B read (row t, column g) bank
//   (72 t + g) mod 32 = 8 t + g, all different: no bank conflicts. BF16 reads two adjacent
//   values per register; the A reads (column 2t) then meet 2-way conflicts.
// - TF32 runs two m16n8k8 steps per slice, BF16 one m16n8k16.
#include "kernels/cuda/gemm_tiled.cuh"
#include "kernels/cuda/mma.cuh"

namespace gm::GM_CUDA_NS {

template <MmaInput P>
__device__ __forceinline__ float round_input(float x) {
  if constexpr (P == MmaInput::tf32)
    return round_tf32(x);
  else
    return round_bf16(x);
}

template <MmaInput P>
__global__ void __launch_bounds__(128)
    gemm_mma_kernel(Gemm s, float alpha, const float* a, const float* b, float beta, float* c,
                    int64_t first_tile_m, bool vector_a, bool vector_b) {
  constexpr int BM = 64, BN = 64, BK = 16, kThreads = 128;
  using Groups = TileGroups<float, BM, BN, BK, kThreads>;
  constexpr int kGroupsA = Groups::kGroupsA, kGroupsB = Groups::kGroupsB;
  constexpr int kPadA = 4, kPadB = 8;  // conflict-free fragment reads; see the header comment
  alignas(16) __shared__ float a_tile[2][BM][BK + kPadA];  // [buf][m][k] = op(A)[m0 + m, k0 + k]
  alignas(16) __shared__ float b_tile[2][BK][BN + kPadB];  // [buf][k][n] = op(B)[k0 + k, n0 + n]

  const int64_t batch = blockIdx.z;
  a += batch * s.stride_a;
  b += batch * s.stride_b;
  c += batch * s.stride_c;
  const int64_t m0 = (first_tile_m + blockIdx.y) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / 2 * 32, wn = warp % 2 * 32;  // this warp's quarter of the tile
  const int g = lane / 4, t = lane % 4;              // the fragment coordinates (mma.h)

  Groups groups(s, tid);
  const auto &a_k = groups.a_k, &a_m = groups.a_m, &b_k = groups.b_k, &b_n = groups.b_n;
  const auto &a_next = groups.a_next, &b_next = groups.b_next;
  auto fetch = [&](int64_t k0) { groups.fetch(s, a, b, m0, n0, k0, vector_a, vector_b); };
  auto stash = [&](int buf) {  // registers -> shared, rounded
    GM_UNROLL
    for (int l = 0; l < kGroupsA; ++l)
      GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      const float v = round_input<P>(a_next[l][j]);
      if (s.trans_a)
        a_tile[buf][a_m[l] + j][a_k[l]] = v;
      else
        a_tile[buf][a_m[l]][a_k[l] + j] = v;
    }
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l)
      GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      const float v = round_input<P>(b_next[l][j]);
      if (s.trans_b)
        b_tile[buf][b_k[l] + j][b_n[l]] = v;
      else
        b_tile[buf][b_k[l]][b_n[l] + j] = v;
    }
  };

  float acc[2][4][4];
  GM_UNROLL
  for (int i = 0; i < 2; ++i)
    GM_UNROLL
  for (int j = 0; j < 4; ++j)
    GM_UNROLL
  for (int r = 0; r < 4; ++r)
    acc[i][j][r] = 0.0f;

  // One mma step over k = kk .. kk + (8 for TF32, 16 for BF16) of the slice in `buf`.
  auto multiply = [&](int buf, int kk) {
    uint32_t af[2][4], bf[4][2];
    GM_UNROLL
    for (int i = 0; i < 2; ++i) {
      const int r = wm + 16 * i + g;
      if constexpr (P == MmaInput::tf32) {
        af[i][0] = float_bits(a_tile[buf][r][kk + t]);
        af[i][1] = float_bits(a_tile[buf][r + 8][kk + t]);
        af[i][2] = float_bits(a_tile[buf][r][kk + t + 4]);
        af[i][3] = float_bits(a_tile[buf][r + 8][kk + t + 4]);
      } else {
        af[i][0] = pack_bf16x2(a_tile[buf][r][kk + 2 * t], a_tile[buf][r][kk + 2 * t + 1]);
        af[i][1] = pack_bf16x2(a_tile[buf][r + 8][kk + 2 * t], a_tile[buf][r + 8][kk + 2 * t + 1]);
        af[i][2] = pack_bf16x2(a_tile[buf][r][kk + 2 * t + 8], a_tile[buf][r][kk + 2 * t + 9]);
        af[i][3] =
            pack_bf16x2(a_tile[buf][r + 8][kk + 2 * t + 8], a_tile[buf][r + 8][kk + 2 * t + 9]);
      }
    }
    GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      const int n = wn + 8 * j + g;
      if constexpr (P == MmaInput::tf32) {
        bf[j][0] = float_bits(b_tile[buf][kk + t][n]);
        bf[j][1] = float_bits(b_tile[buf][kk + t + 4][n]);
      } else {
        bf[j][0] = pack_bf16x2(b_tile[buf][kk + 2 * t][n], b_tile[buf][kk + 2 * t + 1][n]);
        bf[j][1] = pack_bf16x2(b_tile[buf][kk + 2 * t + 8][n], b_tile[buf][kk + 2 * t + 9][n]);
      }
    }
    GM_UNROLL
    for (int i = 0; i < 2; ++i)
      GM_UNROLL
    for (int j = 0; j < 4; ++j) {
      if constexpr (P == MmaInput::tf32)
        mma_tf32_m16n8k8(acc[i][j], af[i], bf[j], acc[i][j]);
      else
        mma_bf16_m16n8k16(acc[i][j], af[i], bf[j], acc[i][j]);
    }
  };

  fetch(0);
  stash(0);
  __syncthreads();
  int buf = 0;
  for (int64_t k0 = 0; k0 < s.k; k0 += BK) {
    const bool more = k0 + BK < s.k;
    if (more) fetch(k0 + BK);  // in flight while this slice is multiplied
    if constexpr (P == MmaInput::tf32) {
      multiply(buf, 0);
      multiply(buf, 8);
    } else {
      multiply(buf, 0);
    }
    // As in gemm_tiled.cuh: the other buffer was last read before the previous barrier.
    if (more) stash(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

  GM_UNROLL
  for (int i = 0; i < 2; ++i)
    GM_UNROLL
  for (int j = 0; j < 4; ++j)
    GM_UNROLL
  for (int r = 0; r < 4; ++r) {
    const int64_t gm = m0 + wm + 16 * i + g + 8 * (r / 2);
    const int64_t gn = n0 + wn + 8 * j + 2 * t + r % 2;
    if (gm >= s.m || gn >= s.n) continue;
    float* out = c + gm * s.n + gn;
    // beta == 0 never reads C: it may hold garbage (even NaN) by contract.
    *out = beta == 0.0f ? alpha * acc[i][j][r] : alpha * acc[i][j][r] + beta * *out;
  }
}

template <MmaInput P>
void gemm_mma(const Exec& e, const Gemm& s, float alpha, const float* a, const float* b, float beta,
              float* c) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  const bool vector_a = vector_loads(a, s.trans_a ? s.m : s.k, s.stride_a);
  const bool vector_b = vector_loads(b, s.trans_b ? s.k : s.n, s.stride_b);
  for_each_gemm_grid<64, 64>(s, [&](dim3 grid, int64_t first, int64_t tile_m) {
    GM_LAUNCH((gemm_mma_kernel<P>), grid, 128, 0, e.stream)
    (s, alpha, a + first * s.stride_a, b + first * s.stride_b, beta, c + first * s.stride_c, tile_m,
     vector_a, vector_b);
  });
}

}  // namespace gm::GM_CUDA_NS

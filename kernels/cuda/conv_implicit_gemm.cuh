#pragma once
// The masked convolution's forward as an implicit GEMM: y_n [K, P] = Wg [K, C*T] col_n [C*T, P]
// (the scheme of kernels/cuda/backend_conv.cpp: T visible taps, a raster-order prefix of the
// kernel), but col_n is never written. The tiled GEMM's block (gemm_tiled.cuh: 64x64 tiles of
// C, double-buffered shared tiles, 4x4 register micro-tiles) fetches A = Wg from memory as usual
// and computes each 4-element group of its B tile from the image while loading it: row
// ci * T + t of the columns is input channel ci shifted by tap t, so the group at (row, p..p+3)
// is 4 pixels of one input plane, zero outside the image. Saves the columns' write and re-read
// (T times the input: 5x for a 3x3 type B layer) for index arithmetic: the pixels of a thread's
// groups are fixed for the block and computed once, the (ci, ky, kx) of its rows once per K
// step; all in 32 bits (the launcher checks the sizes). Each output is the same sum in the same
// order as im2col + gemm_tiled, so the two agree bit for bit. The kernel lab's v6
// (benchmarks/lab/masked_conv_versions.cuh) launches it; it needs no scratch memory.
#include "kernels/common/op_types.h"
#include "kernels/cuda/gemm_tiled.cuh"

namespace gm::GM_CUDA_NS {

// The image side of the implicit columns, in 32-bit indices.
struct ImplicitColumns {
  int channels, height, width, out_w, kernel_w, taps, stride, pad_h, pad_w;
};

template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    conv_implicit_gemm_kernel(Gemm s, ImplicitColumns c, const T* wg, const T* x, T* y, T beta,
                              int64_t first_tile_m, bool vector_a, GemmFusion f) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  using Groups = TileGroups<T, BM, BN, BK, kThreads>;
  constexpr int kGroupsB = Groups::kGroupsB;
  const int64_t image = blockIdx.z;
  x += image * c.channels * c.height * c.width;
  y += image * s.stride_c;
  f = offset_fusion(f, image * s.stride_c, sizeof(T));
  const int64_t m0 = (first_tile_m + blockIdx.y) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  Groups groups(s, static_cast<int>(threadIdx.x));
  // Where the output pixels of this thread's B groups read the image for tap (0, 0); -1 rows
  // mark pixels past the end, which read zeros.
  int in_y[kGroupsB][4], in_x[kGroupsB][4];
  GM_UNROLL
  for (int l = 0; l < kGroupsB; ++l)
    GM_UNROLL
  for (int j = 0; j < 4; ++j) {
    const int p = static_cast<int>(n0) + groups.b_n[l] + j;
    const int oy = p / c.out_w, ox = p - oy * c.out_w;
    const bool valid = p < s.n;
    in_y[l][j] = valid ? oy * c.stride - c.pad_h : -(1 << 30);
    in_x[l][j] = ox * c.stride - c.pad_w;
  }
  auto fetch = [&](int64_t /*entry: one*/, int64_t k0) {
    groups.fetch_a(s, wg, m0, k0, vector_a, f);
    GM_UNROLL
    for (int l = 0; l < kGroupsB; ++l) {
      const int row = static_cast<int>(k0) + groups.b_k[l];
      const bool row_inside = row < s.k;  // rows past C * T (the last K step) read zeros
      const int ci = row_inside ? row / c.taps : 0, t = row_inside ? row - ci * c.taps : 0;
      const int ky = t / c.kernel_w, kx = t - ky * c.kernel_w;
      const T* plane = x + static_cast<int64_t>(ci) * c.height * c.width;
      GM_UNROLL
      for (int j = 0; j < 4; ++j) {
        const int iy = in_y[l][j] + ky, ix = in_x[l][j] + kx;
        const bool inside = row_inside && iy >= 0 && iy < c.height && ix >= 0 && ix < c.width;
        groups.b_next[l][j] = inside ? plane[iy * c.width + ix] : T(0);
      }
    }
  };
  gemm_tiled_block<T, BM, BN, BK, TM, TN, false>(s, T(1), beta, y, m0, n0, groups, fetch, f);
}

// y [N, K, out_h, out_w] = the convolution of x [N, C, H, W] with the gathered visible weights
// wg [K, C * taps], added to y when `accumulate` (beta 1: the bias written there first, as the
// im2col path's GEMM does), with the fusion's bias, residual and weights read in place (wg is
// then w). Returns false, launching nothing, when an image or its columns need more than
// 32-bit indices (conv_implicit_gemm_fits; the caller then uses im2col + GEMM).
template <typename T>
bool conv_forward_implicit_gemm(const Exec& e, const Conv2dGeometry& g, int64_t taps, const T* wg,
                                const T* x, T* y, bool accumulate, const GemmFusion& f) {
  if (!conv_implicit_gemm_fits(g, taps)) return false;
  const int64_t pixels = g.out_height() * g.out_width(), rows = g.in_channels * taps;
  Gemm s;
  s.m = g.out_channels;
  s.n = pixels;
  s.k = rows;
  s.batch = g.batch;
  s.stride_c = g.out_channels * pixels;
  if (s.m == 0 || s.n == 0 || s.batch == 0) return true;
  const ImplicitColumns c{
      static_cast<int>(g.in_channels), static_cast<int>(g.height),   static_cast<int>(g.width),
      static_cast<int>(g.out_width()), static_cast<int>(g.kernel_w), static_cast<int>(taps),
      static_cast<int>(g.stride),      static_cast<int>(g.pad_h),    static_cast<int>(g.pad_w)};
  const bool vector_a = f.a_taps == 0 && vector_loads(wg, s.k, 0);
  const int64_t image_size = g.in_channels * g.height * g.width;
  for_each_gemm_grid<64, 64>(s, [&](dim3 grid, int64_t first, int64_t tile_m) {
    GM_LAUNCH((conv_implicit_gemm_kernel<T, 64, 64, 16, 4, 4>), grid, 256, 0, e.stream)
    (s, c, wg, x + first * image_size, y + first * s.stride_c, accumulate ? T(1) : T(0), tile_m,
     vector_a, offset_fusion(f, first * s.stride_c, sizeof(T)));
  });
  return true;
}

}  // namespace gm::GM_CUDA_NS

#pragma once
// PixelCNN's masked convolution, forward, from naive to fast: y[n, k, r, c] = sum over
// (ci, ky, kx) of w[k, ci, ky, kx] * x[n, ci, r + ky - kh/2, c + kx - kw/2], zero padding,
// stride 1, odd square kernel, the weights already masked (kernels/common/mask.h; one colour
// group, type A or B). Layout NCHW / KCHW as in the library.
//
// v1-v3 accumulate in the same order (ci, then ky, then kx) into one fp32 accumulator, and a
// skipped tap is one whose weight is exactly zero (x * 0 adds an exact zero for finite x), so
// they give bit-identical results; they differ in the work they do and where the operands come
// from. v4 is the library's former direct kernel (conv_direct.cuh); it sums taps outside and
// channels inside, (ky, kx, ci), as the CPU backend does, so it matches v1 only to rounding. v5
// is the library's own forward, im2col over the visible taps + GEMM, calling the launchers
// kernels/cuda/backend_conv.cpp calls, so lab and library cannot drift.
#include <stdexcept>

#include "benchmarks/lab/conv_direct.cuh"
#include "benchmarks/lab/lab_platform.h"
#include "kernels/cuda/conv_implicit_gemm.cuh"

namespace gm::lab {

struct ConvShape {
  int N, C, K, H, W, k;  // k: kernel size (odd)
  bool type_b;           // mask type B shows the centre tap, A hides it
};

// v1 naive: one thread per output, every tap of the kernel, masked ones included (their weights
// are zero). Lesson: the masked conv as a plain conv wastes the ~half of the FLOPs whose weights
// the mask zeroed.
__global__ void masked_conv_v1_naive(ConvShape s, const float* x, const float* w, float* y) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= s.N * s.K * s.H * s.W) return;
  const int c = i % s.W, r = i / s.W % s.H, k = i / (s.W * s.H) % s.K, n = i / (s.W * s.H * s.K);
  const int half = s.k / 2;
  float acc = 0.0f;
  for (int ci = 0; ci < s.C; ++ci)
    for (int ky = 0; ky < s.k; ++ky)
      for (int kx = 0; kx < s.k; ++kx) {
        const int rr = r + ky - half, cc = c + kx - half;
        if (rr < 0 || rr >= s.H || cc < 0 || cc >= s.W) continue;
        acc +=
            w[((k * s.C + ci) * s.k + ky) * s.k + kx] * x[((n * s.C + ci) * s.H + rr) * s.W + cc];
      }
  y[i] = acc;
}

// v2 visible taps only: rows above the centre, and on the centre row the taps left of it (plus
// the centre for type B). The loop bounds encode the mask, so no FLOP is spent on a zero weight:
// for a 7x7 type-A kernel that is 24 of 49 taps. Lesson: the mask is structure, not data.
__global__ void masked_conv_v2_visible(ConvShape s, const float* x, const float* w, float* y) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= s.N * s.K * s.H * s.W) return;
  const int c = i % s.W, r = i / s.W % s.H, k = i / (s.W * s.H) % s.K, n = i / (s.W * s.H * s.K);
  const int half = s.k / 2;
  float acc = 0.0f;
  for (int ci = 0; ci < s.C; ++ci)
    for (int ky = 0; ky <= half; ++ky) {
      const int rr = r + ky - half;
      if (rr < 0) continue;  // rows above only (rr <= r < H)
      const int kx_end = ky < half ? s.k : half + (s.type_b ? 1 : 0);
      for (int kx = 0; kx < kx_end; ++kx) {
        const int cc = c + kx - half;
        if (cc < 0 || cc >= s.W) continue;
        acc +=
            w[((k * s.C + ci) * s.k + ky) * s.k + kx] * x[((n * s.C + ci) * s.H + rr) * s.W + cc];
      }
    }
  y[i] = acc;
}

// v3 shared-memory tiles: a block computes a 16x16 tile of output pixels for one (n, k). For each
// input channel it stages the tile's input window (16 + k - 1 columns; 16 + k/2 rows, since the
// rows below the centre are masked) and that channel's k x k weights in shared memory, then
// every thread reads its taps from there: each input value is loaded from DRAM once per block
// instead of once per tap. Lesson: halo tiles and reuse across neighbouring outputs (what cuDNN's
// direct kernels do).
constexpr int kConvTile = 16, kConvMaxK = 7;
__global__ void masked_conv_v3_tiled(ConvShape s, const float* x, const float* w, float* y) {
  __shared__ float window[kConvTile + kConvMaxK - 1][kConvTile + kConvMaxK - 1];
  __shared__ float taps[kConvMaxK][kConvMaxK];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int tid = ty * kConvTile + tx;
  const int tiles_x = (s.W + kConvTile - 1) / kConvTile;
  const int c0 = static_cast<int>(blockIdx.x) % tiles_x * kConvTile;
  const int r0 = static_cast<int>(blockIdx.x) / tiles_x * kConvTile;
  const int k = static_cast<int>(blockIdx.y), n = static_cast<int>(blockIdx.z);
  const int half = s.k / 2, span = kConvTile + s.k - 1;
  const int r = r0 + ty, c = c0 + tx;
  float acc = 0.0f;
  for (int ci = 0; ci < s.C; ++ci) {
    // Rows r0 - half .. r0 + 15 (the rows below the centre are masked), columns c0 - half ..
    // c0 + 15 + half; outside the image is zero padding.
    for (int e = tid; e < (kConvTile + half) * span; e += kConvTile * kConvTile) {
      const int wr = e / span, wc = e % span;
      const int rr = r0 - half + wr, cc = c0 - half + wc;
      window[wr][wc] = rr >= 0 && rr < s.H && cc >= 0 && cc < s.W
                           ? x[((n * s.C + ci) * s.H + rr) * s.W + cc]
                           : 0.0f;
    }
    if (tid < s.k * s.k) taps[tid / s.k][tid % s.k] = w[(k * s.C + ci) * s.k * s.k + tid];
    __syncthreads();
    for (int ky = 0; ky <= half; ++ky) {
      if (r + ky - half < 0) continue;  // as v2: padding rows are skipped, not added as zeros
      const int kx_end = ky < half ? s.k : half + (s.type_b ? 1 : 0);
      for (int kx = 0; kx < kx_end; ++kx) {
        const int cc = c + kx - half;
        if (cc < 0 || cc >= s.W) continue;
        acc += taps[ky][kx] * window[ty + ky][tx + kx];
      }
    }
    __syncthreads();  // before the next channel overwrites the window
  }
  if (r < s.H && c < s.W) y[((n * s.K + k) * s.H + r) * s.W + c] = acc;
}

inline void masked_conv_v1(const ConvShape& s, const float* x, const float* w, float* y) {
  const int outputs = s.N * s.K * s.H * s.W;
  GM_LAUNCH(masked_conv_v1_naive, dim3((outputs + 127) / 128), dim3(128), 0, nullptr)(s, x, w, y);
}
inline void masked_conv_v2(const ConvShape& s, const float* x, const float* w, float* y) {
  const int outputs = s.N * s.K * s.H * s.W;
  GM_LAUNCH(masked_conv_v2_visible, dim3((outputs + 127) / 128), dim3(128), 0, nullptr)
  (s, x, w, y);
}
// Requires s.k <= kConvMaxK.
inline void masked_conv_v3(const ConvShape& s, const float* x, const float* w, float* y) {
  const unsigned tiles = static_cast<unsigned>(((s.W + kConvTile - 1) / kConvTile) *
                                               ((s.H + kConvTile - 1) / kConvTile));
  GM_LAUNCH(masked_conv_v3_tiled,
            dim3(tiles, static_cast<unsigned>(s.K), static_cast<unsigned>(s.N)),
            dim3(kConvTile, kConvTile), 0, nullptr)
  (s, x, w, y);
}

// v4 the library's former kernel (conv_direct.cuh): v2's idea (the mask is loop structure,
// masked taps are never computed) generalised to what the backend needs: strides, padding,
// rectangular kernels, fp64 and R|G|B colour groups (which channel pairs see the centre tap,
// kernels/common/mask.h), with 64-bit indexing and a grid-stride loop of 256-thread blocks.
// Here with one colour group. Lesson: generality costs registers and 64-bit divisions in the
// inner loop, and one thread per output re-reads every input pixel K times from global memory.
inline Conv2dGeometry conv_geometry(const ConvShape& s) {
  return Conv2dGeometry{.batch = s.N,
                        .in_channels = s.C,
                        .height = s.H,
                        .width = s.W,
                        .out_channels = s.K,
                        .kernel_h = s.k,
                        .kernel_w = s.k,
                        .stride = 1,
                        .pad_h = s.k / 2,
                        .pad_w = s.k / 2};
}
inline ConvMask conv_mask(const ConvShape& s) {
  return ConvMask{s.type_b ? MaskType::B : MaskType::A, 1};
}
inline void masked_conv_v4(const ConvShape& s, const float* x, const float* w, float* y) {
  namespace lib = ::gm::GM_CUDA_NS;
  lib::conv_forward_direct<float>(lib::Exec{}, conv_geometry(s), conv_mask(s), x, w, y);
}

// v5 the library's forward (kernels/cuda/backend_conv.cpp, launchers of kernels/cuda/conv.cu):
// im2col over the visible taps only (24 of 49 for 7x7 type A: a raster-order prefix of the
// kernel, so no tap table), the visible weights gathered into Wg [K, C*T], then one batched
// GEMM y_n = Wg col_n, here our tiled GEMM (on a GPU the library calls cuBLAS instead). The
// whole batch is one column chunk, as in the backend for these sizes. Lesson: a convolution is
// a GEMM plus data movement; the movement (im2col writes and the GEMM re-reads C*T*P values per
// image) is memory-bound and cheap next to the direct kernel's re-reads, and the GEMM's tiles
// reuse each loaded value 4-16 times from registers.
inline void masked_conv_v5(const ConvShape& s, const float* x, const float* w, float* y) {
  namespace lib = ::gm::GM_CUDA_NS;
  const lib::Exec e{};
  const Conv2dGeometry g = conv_geometry(s);
  const ConvMask m = conv_mask(s);
  const int64_t taps = mask::used_tap_count(m.type, 1, s.k, s.k);
  const int64_t rows = s.C * taps, pixels = int64_t{s.H} * s.W;
  static DeviceScratch<float> scratch;  // Wg, then the columns
  float* const wg = scratch.at_least(static_cast<size_t>(s.K * rows + s.N * rows * pixels));
  float* const col = wg + s.K * rows;
  lib::conv_gather_weights<float>(e, g, m, taps, w, wg);
  lib::conv_im2col<float>(e, g, taps, s.N, x, col);
  Gemm gemm;
  gemm.m = s.K;
  gemm.n = pixels;
  gemm.k = rows;
  gemm.batch = s.N;
  gemm.stride_b = rows * pixels;
  gemm.stride_c = s.K * pixels;
  lib::gemm<float>(e, lib::default_gemm_tile(gemm.m, gemm.n), gemm, 1.0f, wg, col, 0.0f, y);
}

// v6 implicit GEMM (kernels/cuda/conv_implicit_gemm.cuh): v5's GEMM without its columns. The
// tiled GEMM's block loads Wg as before and computes its B tile's groups straight from the image
// (row ci * T + t of the columns is channel ci shifted by tap t), so nothing of size C*T*P is
// written or read back, and no scratch is needed beyond Wg. Same sums in the same order as v5,
// so bit-identical to v1. Lesson: im2col's buffer is a convenience, not a necessity; the
// gather can live in the GEMM's tile loader, trading the buffer's DRAM traffic for index
// arithmetic per K step.
inline void masked_conv_v6(const ConvShape& s, const float* x, const float* w, float* y) {
  namespace lib = ::gm::GM_CUDA_NS;
  const lib::Exec e{};
  const Conv2dGeometry g = conv_geometry(s);
  const ConvMask m = conv_mask(s);
  const int64_t taps = mask::used_tap_count(m.type, 1, s.k, s.k);
  static DeviceScratch<float> weights;
  float* const wg = weights.at_least(static_cast<size_t>(s.K * s.C * taps));
  lib::conv_gather_weights<float>(e, g, m, taps, w, wg);
  if (!lib::conv_forward_implicit_gemm<float>(e, g, taps, wg, x, y))
    throw std::runtime_error("masked_conv_v6: sizes beyond 32-bit indices");
}

// The version the library launches (docs/kernel-lab.md): by construction, v5.
inline void masked_conv_library(const ConvShape& s, const float* x, const float* w, float* y) {
  masked_conv_v5(s, x, w, y);
}

}  // namespace gm::lab

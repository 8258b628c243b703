#pragma once
// The launchers: host functions, one per kernel family file (kernels/cuda/*.cu), that pick a
// launch configuration and start the kernels. They take raw device pointers and plain structs,
// so this header compiles under nvcc, which cannot include the engine's headers; the backend
// (backend_*.cpp) unpacks tensors and calls them. Launchers never synchronize.
#include <cstdint>

#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

// Where and how wide launchers run. `block` is the threads per block of kernels whose block
// size is free (1-D elementwise kernels and reductions); a multiple of 32 from 32 to 1024.
struct Exec {
  cudaStream_t stream = nullptr;
  int block = 256;
};

// Threads per block for n independent elements: the configured block, but no more warps than
// there are elements (tiny tensors are common, and idle threads still cost a slot).
inline unsigned threads_for(int64_t n, int block) {
  const int64_t warps = (n + 31) / 32;
  return static_cast<unsigned>(warps * 32 < block ? (warps < 1 ? 32 : warps * 32) : block);
}
// Blocks for a grid-stride loop over n elements: enough to fill a large GPU several times over,
// capped so that huge tensors loop instead of launching millions of blocks.
inline unsigned blocks_for(int64_t n, unsigned threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 4096 ? 4096 : blocks));
}

constexpr int kMaxDims = 8;  // engine/backend.h's kMaxDims

// ---- fill.cu: fills, conversions, Philox noise, strided copies
template <typename T>
void fill(const Exec& e, T* y, int64_t n, T value);
template <typename T>
void arange(const Exec& e, T* y, int64_t n);
template <typename X, typename Y>
void cast(const Exec& e, const X* x, Y* y, int64_t n);
template <typename T>
void fill_uniform(const Exec& e, T* y, int64_t n, uint64_t seed, uint64_t offset, double low,
                  double high);
template <typename T>
void fill_normal(const Exec& e, T* y, int64_t n, uint64_t seed, uint64_t offset, double mean,
                 double stddev);
// An N-d box between two buffers with element strides (engine/backend.h's StridedCopy).
struct Box {
  int ndim = 0;
  int64_t extent[kMaxDims] = {};
  int64_t src_stride[kMaxDims] = {};
  int64_t dst_stride[kMaxDims] = {};
  int64_t src_offset = 0, dst_offset = 0;
};
void strided_copy(const Exec& e, int element_bytes, const void* src, void* dst, const Box& box);

// ---- elementwise.cu (op codes of kernels/common/unary_math.h)
template <typename T>
void unary(const Exec& e, int op, const T* x, T* y, int64_t n, T alpha, T scale, T shift);
template <typename T>
void unary_backward(const Exec& e, int op, const T* x, const T* y, const T* dy, T* dx, int64_t n,
                    T alpha, T scale);
// y = a op b; with ndim == 0 a, b and y have the same shape, else a and b are broadcast with
// the given element strides (0 along broadcast dims) over y's shape.
struct Broadcast {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t a_stride[kMaxDims] = {};
  int64_t b_stride[kMaxDims] = {};
};
template <typename T>
void binary(const Exec& e, int op, const T* a, const T* b, T* y, int64_t n, const Broadcast& bc);
template <typename T>
void axpy(const Exec& e, T alpha, const T* x, T* y, int64_t n);

// ---- reduce.cu: x viewed as [outer, n, inner] -> y [outer, inner], accumulated in double.
template <typename T>
void sum_axis(const Exec& e, const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
// Rows of a [rows, cols] double buffer summed into y [rows] (converted to T).
template <typename T>
void sum_rows(const Exec& e, const double* x, T* y, int64_t rows, int64_t cols);

// ---- gemm.cu: row-major C = alpha op(A) op(B) + beta C, batched (engine/backend.h's Gemm).
struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};
// The tile configurations of our GEMM: 64x64 tiles of 256 threads, or 32x32 tiles of 64.
enum class GemmTile { t64, t32 };
// The tiling CudaGemm::tiled picks: 32x32 when C has fewer than 64 rows or columns, where most
// of a 64x64 tile's threads would idle. Shared by the backend and the kernel lab's gemm_v4.
inline GemmTile default_gemm_tile(int64_t m, int64_t n) {
  return m < 64 || n < 64 ? GemmTile::t32 : GemmTile::t64;
}
template <typename T>
void gemm(const Exec& e, GemmTile tile, const GemmShape& s, T alpha, const T* a, const T* b, T beta,
          T* c);

// ---- conv.cu: direct convolution, masks of kernels/common/mask.h.
struct ConvShape {
  int64_t batch = 0, in_channels = 0, height = 0, width = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride = 1, pad_h = 0, pad_w = 0, out_h = 0, out_w = 0;
  int mask_type = 0;  // gm::MaskType as an int: none, A, B
  int colour_groups = 1;
};
template <typename T>
void conv2d_forward(const Exec& e, const ConvShape& s, const T* x, const T* w, T* y);
template <typename T>
void conv2d_backward_data(const Exec& e, const ConvShape& s, const T* dy, const T* w, T* dx);
template <typename T>
void conv2d_backward_weight(const Exec& e, const ConvShape& s, const T* x, const T* dy, T* dw);

}  // namespace gm::GM_CUDA_NS

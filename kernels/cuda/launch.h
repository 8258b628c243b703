#pragma once
// The launchers: host functions, one per kernel family file (kernels/cuda/*.cu), that pick a
// launch configuration and start the kernels. They take raw device pointers and the plain
// structs of kernels/common/op_types.h, so this header compiles under nvcc, which cannot include
// the engine's headers; the backend (backend_*.cpp) unpacks tensors and calls them. Launchers
// never synchronize.
#include <cstddef>
#include <cstdint>

#include "kernels/common/dtype.h"
#include "kernels/common/op_types.h"
#include "kernels/cuda/counters.h"
#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

// The stream launchers queue work on, and the counters of the backend that owns it: GM_LAUNCH
// (platform.h) counts every launch through it, so no launcher has to remember to. Converts to
// the plain stream for runtime calls; the kernel lab and tests pass a bare stream (no counts).
struct ExecStream {
  ExecStream(cudaStream_t s = nullptr, CudaCounterSet* c = nullptr) : stream(s), counters(c) {}
  operator cudaStream_t() const { return stream; }
  cudaStream_t stream;
  CudaCounterSet* counters;
};

// Device memory for temporaries (per-block partial sums): the backend's caching allocator,
// behind an interface nvcc can compile.
class ScratchSource {
 public:
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) noexcept = 0;

 protected:
  ~ScratchSource() = default;
};

// A temporary device buffer, returned to its source when it goes out of scope. The stream
// orders its reuse after the kernels that were queued with it.
class Scratch {
 public:
  Scratch(ScratchSource& source, size_t bytes) : source_(source), ptr_(source.allocate(bytes)) {}
  ~Scratch() { source_.deallocate(ptr_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  ScratchSource& source_;
  void* ptr_;
};

// Where and how wide launchers run. `block` is the threads per block of kernels whose block
// size is free (1-D elementwise kernels and reductions); a multiple of 32 from 32 to 1024.
// `scratch` serves launchers that need temporaries (the backend's allocator; null in the
// kernel lab, whose launchers take their buffers as arguments).
struct Exec {
  ExecStream stream;
  int block = 256;
  ScratchSource* scratch = nullptr;
};

// Calls fn(float{}) or fn(double{}) for a floating dtype; any other dtype is an error naming
// `what` (the op validated dtypes already, so this is a bug guard, not a user message).
[[noreturn]] void unsupported_dtype(const char* what, const char* expected, DType got);
template <typename Fn>
void with_floating(DType dtype, const char* what, Fn&& fn) {
  if (dtype == DType::f32)
    fn(float{});
  else if (dtype == DType::f64)
    fn(double{});
  else
    unsupported_dtype(what, "float32 or float64", dtype);
}

// The shared memory a block may have without opting in (static plus dynamic), on every GPU
// since sm_70; the emulator refuses more (kernels/simt/executor.h).
inline constexpr size_t kBlockSharedBytes = 48 * 1024;

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
void strided_copy(const Exec& e, int element_bytes, const void* src, void* dst,
                  const StridedCopy& box);

// ---- elementwise.cu (formulas of kernels/common/unary_math.h)
template <typename T>
void unary(const Exec& e, UnaryOp op, const T* x, T* y, int64_t n, T alpha, T scale, T shift);
template <typename T>
void unary_backward(const Exec& e, UnaryOp op, const T* x, const T* y, const T* dy, T* dx,
                    int64_t n, T alpha, T scale);
// y = a op b; with ndim == 0 a, b and y have the same shape, else a and b are broadcast with
// the given element strides (0 along broadcast dims) over y's shape.
struct Broadcast {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t a_stride[kMaxDims] = {};
  int64_t b_stride[kMaxDims] = {};
};
template <typename T>
void binary(const Exec& e, BinaryOp op, const T* a, const T* b, T* y, int64_t n,
            const Broadcast& bc);
template <typename T>
void axpy(const Exec& e, T alpha, const T* x, T* y, int64_t n);

// ---- reduce.cu: x viewed as [outer, n, inner] -> y [outer, inner], accumulated in double.
template <typename T>
void sum_axis(const Exec& e, const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
// x viewed as [outer, channels, inner] -> y [channels], y[c] = sum_{o, i} x[o, c, i] in double.
template <typename T>
void sum_per_channel(const Exec& e, const T* x, T* y, int64_t outer, int64_t channels,
                     int64_t inner);
// Rows of a [rows, cols] double buffer summed into y [rows] (converted to T).
template <typename T>
void sum_rows(const Exec& e, const double* x, T* y, int64_t rows, int64_t cols);

// What a GEMM does besides C = alpha op(A) op(B) + beta C (Gemm, kernels/common/op_types.h),
// each part optional (null or false: none), so that a convolution's ReLU, bias, residual, masked
// weights and bias gradient cost no launch of their own. Only our tiled GEMM
// (kernels/cuda/gemm_tiled.cuh) takes it; the other GEMMs run the unfused sequence instead
// (kernels/cuda/backend_conv.cpp). Pointers are device memory of the GEMM's element type T unless
// said otherwise. Every part rounds as its unfused op does, except the row sums (below).
struct GemmFusion {
  // op(B) is read through max(b, 0), the ReLU formula of kernels/common/unary_math.h.
  bool relu_b = false;
  // A's stored columns come in groups of a_taps out of every a_kernel: column j of A as the
  // GEMM sees it is stored column (j / a_taps) * a_kernel + j % a_taps, in rows of
  // (columns / a_taps) * a_kernel (the visible taps of a masked kernel read in place, no
  // gathered copy). 0: A is stored as the GEMM sees it.
  int64_t a_taps = 0, a_kernel = 0;
  // [M]: C starts from bias[m] instead of 0 (alpha 1, beta 0): C = bias + op(A) op(B), the bits
  // of a bias written into C and a GEMM with beta 1 adding its product.
  const void* bias = nullptr;
  // Laid out like C: the product's element through relu' of it, x > 0 ? c : 0 (the ReLU's
  // backward of kernels/common/unary_math.h), before residual.
  const void* relu_grad_of = nullptr;
  // Laid out like C: added last, C = (product + bias) + residual.
  const void* residual = nullptr;
  // A batch-summed GEMM (a weight gradient) takes relu_b and the row sums only, the others
  // everything else: each instantiation compiles only its parts (registers).
  // Gemm::sum_batch only. [M]: row m of op(A) summed over k and the batch, in double, in the
  // GEMM's fixed order (entries in order, k in order), converted to T; a convolution's bias
  // gradient from the weight gradient's dy. row_sums_carry (double, [M]) holds the running sum
  // between calls that continue one sum (beta 1): read when beta is not 0, written when set.
  void* row_sums = nullptr;
  double* row_sums_carry = nullptr;
  bool any() const {
    return relu_b || a_taps != 0 || bias || relu_grad_of || residual || row_sums || row_sums_carry;
  }
};

// ---- gemm.cu: row-major C = alpha op(A) op(B) + beta C, batched (alpha and beta in T, not
// the Gemm's doubles).
// The tile configurations of our GEMM: 64x64 tiles of 256 threads, or 32x32 tiles of 64.
enum class GemmTile { t64, t32 };
// The tiling CudaGemm::tiled picks: 32x32 when C has fewer than 64 rows or columns, where most
// of a 64x64 tile's threads would idle. Shared by the backend and the kernel lab's gemm_v4.
inline GemmTile default_gemm_tile(int64_t m, int64_t n) {
  return m < 64 || n < 64 ? GemmTile::t32 : GemmTile::t64;
}
// `f`: what the GEMM does besides the product (kernels/common/op_types.h).
template <typename T>
void gemm(const Exec& e, GemmTile tile, const Gemm& s, T alpha, const T* a, const T* b, T beta,
          T* c, const GemmFusion& f = GemmFusion{});

// The tensor-core GEMM (gemm_mma.cuh), float32 only: op(A) and op(B) rounded to TF32 or BF16,
// products summed in float32.
enum class MmaInput { tf32, bf16 };
template <MmaInput P>
void gemm_mma(const Exec& e, const Gemm& s, float alpha, const float* a, const float* b, float beta,
              float* c);

// ---- conv.cu: the data movement of convolution as GEMM (backend_conv.cpp runs the GEMMs).
// `taps` is the number of computed taps, a raster-order prefix of the kernel
// (mask::used_tap_count); `images` how many images of x (or dx) the call covers.
// col [images, C * taps, OH * OW] from x [images, C, H, W] (relu(x) when `relu`); zeros where a
// tap is padding.
template <typename T>
void conv_im2col(const Exec& e, const Conv2dGeometry& g, int64_t taps, int64_t images, const T* x,
                 T* col, bool relu = false);
// dx [images, C, H, W] = the adjoint of conv_im2col applied to dcol (overwrites dx); with
// relu_x, times relu'(relu_x): the data gradient of a convolution of relu(relu_x).
template <typename T>
void conv_col2im(const Exec& e, const Conv2dGeometry& g, int64_t taps, int64_t images,
                 const T* dcol, T* dx, const T* relu_x = nullptr);
// y [images, channels, pixels] = bias[channel].
template <typename T>
void conv_bias_init(const Exec& e, const T* bias, T* y, int64_t images, int64_t channels,
                    int64_t pixels);
// wg [K, C * taps] from w [K, C, kh, kw]: forbidden (ci, co) pairs of the centre tap are 0.
template <typename T>
void conv_gather_weights(const Exec& e, const Conv2dGeometry& g, const ConvMask& m, int64_t taps,
                         const T* w, T* wg);
// Whether the implicit GEMM's 32-bit indices cover an image, its columns and its pixels.
inline bool conv_implicit_gemm_fits(const Conv2dGeometry& g, int64_t taps) {
  const int64_t pixels = g.out_height() * g.out_width(), limit = int64_t{1} << 30;
  return g.in_channels * g.height * g.width < limit && g.in_channels * taps * pixels < limit &&
         pixels < limit;
}
// y [N, K, out_h, out_w] = x convolved with wg [K, C * taps] as an implicit GEMM, no columns
// (kernels/cuda/conv_implicit_gemm.cuh), added to y when `accumulate` (y holds the bias), with
// `f`'s bias, residual and in-place weights (its other parts are not for this kernel); false,
// launching nothing, when the sizes need 64-bit indices.
template <typename T>
bool conv_forward_implicit_gemm(const Exec& e, const Conv2dGeometry& g, int64_t taps, const T* wg,
                                const T* x, T* y, bool accumulate = false,
                                const GemmFusion& f = GemmFusion{});
// dw [K, C, kh, kw] from dwg [K, C * taps]: exactly 0 at every masked weight.
template <typename T>
void conv_scatter_weight_grad(const Exec& e, const Conv2dGeometry& g, const ConvMask& m,
                              int64_t taps, const T* dwg, T* dw);

// ---- lstm_scan.cu: the PixelRNN scan, one block per image walking every step (shapes as in
// the entries lstm_scan_forward/backward of engine/backend_ops.def).
// The dynamic shared memory of a scan kernel: the previous step's h [hidden, L] (forward) or
// the next step's gate gradients [4 hidden, L] (backward). A launch needs it within
// kBlockSharedBytes.
size_t lstm_scan_shared_bytes(const LstmScan& s, size_t element_bytes, bool backward);
// h, c [N, hidden, T, L] and, when not null, gates [N, 4 hidden, T, L] from x, w, bias.
template <typename T>
void lstm_scan_forward(const Exec& e, const LstmScan& s, const T* x, const T* w, const T* bias,
                       T* h, T* c, T* gates);
// dx [N, 4 hidden, T, L], the gates' gradient at every step, from dh (null: zero).
template <typename T>
void lstm_scan_backward(const Exec& e, const LstmScan& s, const T* w, const T* gates, const T* c,
                        const T* dh, T* dx);
// cols [N, hidden * k, T, L]: every step's im2col of the previous step's h (zeros at t = 0).
template <typename T>
void lstm_scan_columns(const Exec& e, const LstmScan& s, const T* h, T* cols);

}  // namespace gm::GM_CUDA_NS

#pragma once
// The plain types of the backend interface (engine/backend.h): op codes, copy boxes,
// convolution and GEMM geometry, optimizer steps, limits. Nothing here knows tensors, so the
// same definitions serve the engine (g++), the CPU kernels and the CUDA kernels (nvcc): a
// launcher receives exactly the struct the op built.
#include <cstdint>

#include "kernels/common/hd.h"

namespace gm {

// The most dimensions a tensor (and so a copy box or a broadcast) can have.
inline constexpr int kMaxDims = 8;

// The elementwise ops, each listed once: the enum and its count are generated from the list,
// so adding an op anywhere in it keeps every loop over the ops complete.
#define GM_UNARY_OPS(X) \
  X(neg)                \
  X(exp)                \
  X(log)                \
  X(tanh)               \
  X(sigmoid)            \
  X(relu)               \
  X(elu)                \
  X(softplus)           \
  X(square)             \
  X(sqrt)               \
  X(abs)                \
  X(affine) /* y = x * scale + shift   (scalar multiply / add) */
#define GM_BINARY_OPS(X) X(add) X(sub) X(mul) X(div)

#define GM_OP_ENUMERATOR(name) name,
#define GM_OP_COUNT(name) +1
enum class UnaryOp : uint8_t { GM_UNARY_OPS(GM_OP_ENUMERATOR) };
enum class BinaryOp : uint8_t { GM_BINARY_OPS(GM_OP_ENUMERATOR) };
inline constexpr int kUnaryOpCount = 0 GM_UNARY_OPS(GM_OP_COUNT);
inline constexpr int kBinaryOpCount = 0 GM_BINARY_OPS(GM_OP_COUNT);
#undef GM_OP_ENUMERATOR
#undef GM_OP_COUNT

// Parameters of a unary op; `alpha` is elu's alpha, `scale`/`shift` belong to affine.
struct UnaryParams {
  double alpha = 1.0;
  double scale = 1.0;
  double shift = 0.0;
};

// kMaxDims extents or strides; an aggregate, so `box.extent = {n, c, h}` sets the first three.
struct DimArray {
  int64_t v[kMaxDims] = {};
  template <typename I>
  GM_HD int64_t& operator[](I i) {
    return v[i];
  }
  template <typename I>
  GM_HD const int64_t& operator[](I i) const {
    return v[i];
  }
};

// An N-d box copied between two tensors' storage with arbitrary element strides; permute,
// slice, concat and pad are all this one kernel.
struct StridedCopy {
  int ndim = 0;
  DimArray extent{};
  DimArray src_stride{};
  DimArray dst_stride{};
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  // Whether the box holds no element (a zero extent): there is nothing to copy.
  GM_HD bool empty() const {
    for (int i = 0; i < ndim; ++i)
      if (extent[i] == 0) return true;
    return false;
  }
};

// The kinds of PixelCNN mask (docs/masked-convolution.md): type A hides the centre tap, type B
// shows it.
enum class MaskType : uint8_t { none, A, B };

// Masked convolution: with colour groups the centre tap is further masked by group of
// input/output channel (channels are split into `colour_groups` contiguous blocks R|G|B). The
// rule itself lives in kernels/common/mask.h.
struct ConvMask {
  MaskType type = MaskType::none;
  int colour_groups = 1;
};

// 2-D cross-correlation, NCHW input [N, C, H, W], weight [K, C, kh, kw], output [N, K, OH, OW].
struct Conv2dGeometry {
  int64_t batch = 0, in_channels = 0, height = 0, width = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride = 1, pad_h = 0, pad_w = 0;
  GM_HD int64_t out_height() const { return (height + 2 * pad_h - kernel_h) / stride + 1; }
  GM_HD int64_t out_width() const { return (width + 2 * pad_w - kernel_w) / stride + 1; }
};

// Row-major C[M,N] = alpha * op(A) op(B) + beta * C, batched over `batch` matrices laid out
// back to back (strides M*K, K*N, M*N; a stride of 0 reuses one).
struct Gemm {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch entries
  double alpha = 1.0, beta = 0.0;
  // C = sum_b op(A_b) op(B_b) + beta C: the batch entries accumulate into one C (stride_c
  // unused), in batch order; a convolution's weight gradient summed over images. alpha must be
  // 1, and beta C is where the sum starts, so a sum split over two calls (beta 1 for the
  // second) gives the bits of one call. Set by the CUDA convolutions on their own GEMMs; the
  // gemm entry's callers leave it false.
  bool sum_batch = false;
};

// The sizes of one PixelRNN scan (engine/ops/lstm_scan.cpp has the recurrence): x [batch,
// 4 hidden, steps, length] walked down its steps, a state-to-state convolution of `kernel` taps
// along each line (tap j of position l reads position l + j - pad_before of the previous step),
// gate channels in (group, gate, unit) order for `groups` colour groups.
struct LstmScan {
  int64_t batch = 0, steps = 0, length = 0;
  int64_t hidden = 0, kernel = 0, pad_before = 0, groups = 1;
  GM_HD int64_t positions() const { return batch * length; }  // of one step, all images
  GM_HD int64_t taps() const { return hidden * kernel; }      // im2col rows: c * kernel + j
  GM_HD int64_t gates() const { return 4 * hidden; }
};

// One optimizer step (formulas in kernels/common/optim_math.h).
struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = true;  // AdamW-style decay when true, L2-in-gradient when false
  int64_t step = 1;       // 1-based, for bias correction
  // Multi-tensor entries only: a float64 scalar on the parameters' device, or null. When it is
  // not finite the step changes nothing, so a training loop can skip the update of a step whose
  // loss or gradient norm it has not read back yet.
  const double* guard = nullptr;
  // Multi-tensor entries only: null, or math::AdamConstants of this step (in the parameters'
  // dtype) in the parameters' device memory, which the kernel reads instead of computing them
  // from the fields above. A captured step reads each replay's constants there
  // (Optimizer::prepare_step uploads them).
  const void* step_constants = nullptr;
};
struct SgdStep {
  double lr = 1e-2, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  const double* guard = nullptr;  // as AdamStep::guard
};

}  // namespace gm

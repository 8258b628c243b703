#pragma once
// Differentiable ops. Each is defined next to its backward in engine/ops/<group>.cpp and calls
// one backend kernel per direction. All take and return Tensors; inputs must share a device.
#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace gm {

class Generator;

// ---- elementwise (engine/ops/elementwise.cpp). Binary ops broadcast numpy-style.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor softplus(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator-(const Tensor& x) {
  return neg(x);
}
inline Tensor operator+(const Tensor& x, double s) {
  return add_scalar(x, s);
}
inline Tensor operator-(const Tensor& x, double s) {
  return add_scalar(x, -s);
}
inline Tensor operator*(const Tensor& x, double s) {
  return mul_scalar(x, s);
}
inline Tensor operator*(double s, const Tensor& x) {
  return mul_scalar(x, s);
}

// The shape both operands broadcast to; throws ShapeError naming the op otherwise.
Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b);
// Sums `g` down to `shape` (the inverse of broadcasting), for gradients of broadcast operands.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// ---- reductions (engine/ops/reduce.cpp). Negative dims count from the end.
Tensor sum(const Tensor& x);  // all elements -> shape []
Tensor sum(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);

// ---- shape (engine/ops/shape.cpp)
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1; shares storage
Tensor permute(const Tensor& x, const std::vector<int>& order);
Tensor concat(const std::vector<Tensor>& xs, int dim);
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end);  // [start, end)
// Zero-pads the last two dims (H, W) of an [..., H, W] tensor; negative amounts crop.
Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right);
// Repeats x along its size-1 dims (and new leading dims) to `shape`; gradient sums back.
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Reverses the order along one dim (the Diagonal BiLSTM's backward direction).
Tensor flip(const Tensor& x, int dim);

// ---- linear algebra (engine/ops/linalg.cpp)
Tensor matmul(const Tensor& a, const Tensor& b);  // [M, K] x [K, N] -> [M, N]
// x [N, in], weight [out, in], bias [out] (may be undefined) -> [N, out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- convolution (engine/ops/conv.cpp). x [N, C, H, W], weight [K, C, kh, kw], bias [K] or
// undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0);
// Masked convolution (PixelCNN): padding kh/2, kw/2, stride 1; masked taps are skipped.
Tensor masked_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, MaskType type,
                     int colour_groups = 1);
// masked_conv2d(relu(x), weight, bias, type, colour_groups) + residual as one op (residual
// [N, K, H, W] or undefined): on the CPU the ReLU is applied while the convolution's columns are
// built and the residual is added in its GEMM's epilogue, so neither relu(x) nor the sum before
// the residual is ever stored. Same values as the three ops it replaces.
Tensor relu_masked_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, MaskType type,
                          int colour_groups = 1, const Tensor& residual = Tensor());
// x [N, C, H, W], weight [C, K, kh, kw] (PyTorch's layout), output
// [N, K, (H-1)*stride - 2*padding + kh + output_padding, ...]
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        int64_t stride = 1, int64_t padding = 0, int64_t output_padding = 0);

// ---- fused model ops, each defined next to its backward in engine/ops/<family>.cpp: declared
// in engine/backend_ops.def next to their kernel entries, with what each computes.
struct LstmState {
  Tensor h, c;
};
// How discretized_logistic_nll knows that x lies on the 256-level grid 2 v / 255 - 1.
enum class PixelGrid {
  check,       // it reads x on the host and checks each value (one host synchronisation)
  from_uint8,  // the caller made x from uint8 pixels v as v / 127.5 - 1 (scale_images)
};
// clang-format off
#define GM_OP(ret, name, params) ret name params;
#include "engine/backend_ops.def"
// clang-format on

// ---- PixelRNN recurrences (engine/ops/skew.cpp, lstm_scan.cpp; why and how in those files)
// x [N, C, H, W] -> [N, C, H, H+W-1]: s[n, c, r, r + j] = x[n, c, r, j], zeros elsewhere.
Tensor skew(const Tensor& x);
// The inverse: [N, C, H, H+W-1] -> [N, C, H, W], reading the pixels back (ignoring the rest).
Tensor unskew(const Tensor& s);
// The layout the Diagonal BiLSTM scans: the skewed map transposed, [N, C, H+W-1, H], so each
// skewed column (one step of the scan) is contiguous. With `reverse`, the width-reversed map is
// skewed (the backward direction): flip and skew in one copy.
Tensor skew_columns(const Tensor& x, bool reverse);
// The inverse of skew_columns with the same `reverse`: [N, C, H+W-1, H] -> [N, C, H, W].
Tensor unskew_columns(const Tensor& s, bool reverse);
// An LSTM walking down dim 2 of x [N, 4h, T, L] (input-to-state gate pre-activations), one
// line of L positions per step, with a 1-D convolution weight [4h, h, k] (tap j of position l
// reads the previous step's h at l + j - pad_before, zero outside) plus bias [4h] as its
// state-to-state transition -> h [N, h, T, L]. `groups` colour groups order the channels
// (group, gate, unit) and (group, unit).
Tensor lstm_scan(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_before,
                 int64_t groups = 1);

}  // namespace gm

// Convolutions: conv2d, PixelCNN's masked conv2d and the transposed conv2d, forward and
// backward side by side. All three use the backend's three convolution kernels; a transposed
// convolution is the adjoint of a convolution, so its forward is that convolution's
// backward-data, its backward-data is the convolution's forward, and its weight gradient is the
// convolution's weight gradient with the roles of input and output gradient swapped.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

std::string kernel_str(int64_t kh, int64_t kw) {
  return fmt::format("{}x{}", kh, kw);
}

// Device, dtype and rank checks shared by the three ops; `weight_layout` names the expected
// weight dimensions for the message.
void check_conv_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const char* weight_layout) {
  check_floating(op, x);
  check_same_device(op, x, weight);
  check_same_dtype(op, x, weight);
  if (x.ndim() != 4)
    throw ShapeError(
        fmt::format("{}: x must be [N, C, H, W], got shape {}", op, shape_str(x.shape())));
  if (weight.ndim() != 4)
    throw ShapeError(fmt::format("{}: weight must be {}, got shape {}", op, weight_layout,
                                 shape_str(weight.shape())));
  if (bias.defined()) {
    check_same_device(op, x, bias);
    check_same_dtype(op, x, bias);
  }
}

void check_stride_padding(const char* op, int64_t stride, int64_t padding) {
  if (stride < 1) throw ShapeError(fmt::format("{}: stride must be >= 1, got {}", op, stride));
  if (padding < 0) throw ShapeError(fmt::format("{}: padding must be >= 0, got {}", op, padding));
}

// y [N, K, OH, OW] + bias [K] through the broadcasting add (so its gradient comes for free).
Tensor add_bias(const char* op, const Tensor& y, const Tensor& bias) {
  if (!bias.defined()) return y;
  check_shape(op, "bias", bias, {y.size(1)});
  return add(y, reshape(bias, {y.size(1), 1, 1}));
}

// A bias's gradient: dy [N, K, OH, OW] summed per output channel, in one backend call.
Tensor bias_gradient(const Tensor& dy) {
  Tensor db = Tensor::empty({dy.size(1)}, dy.dtype(), dy.device());
  dy.backend().sum_per_channel(dy, db);
  return db;
}

// The weight and bias gradients of a convolution of x (of relu(x) when `relu`), each when
// wanted (bias may be undefined). Both together are one backend pass (the bias gradient summed
// from each image's dy while the weight gradient has it in cache); the bias gradient alone is
// dy summed over images and positions.
void weight_bias_grads(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x, bool relu,
                       const Tensor& weight, const Tensor& bias, const Tensor& dy, Tensor& dw,
                       Tensor& db) {
  const bool want_db = bias.defined() && bias.requires_grad();
  Backend& backend = x.backend();
  if (weight.requires_grad()) dw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
  if (weight.requires_grad() && want_db && dy.numel() > 0) {
    db = Tensor::empty(bias.shape(), bias.dtype(), bias.device());
    backend.conv2d_backward_weight_bias(g, mask, x, relu, dy, dw, db);
    return;
  }
  if (weight.requires_grad()) {
    if (relu)
      backend.relu_conv2d_backward_weight(g, mask, x, dy, dw);
    else
      backend.conv2d_backward_weight(g, mask, x, dy, dw);
  }
  if (want_db) db = bias_gradient(dy);
}

// The cross-correlation of x with weight under a mask, plus the bias when there is one,
// recorded as one node. The bias is added by the backend's convolution (folded into the GEMM
// on the CPU); its gradient is dy summed over images and pixels.
Tensor conv_recorded(const char* name, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Conv2dGeometry& g, const ConvMask& mask) {
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_height(), g.out_width()}, x.dtype(),
                           x.device());
  if (bias.defined()) {
    check_shape(name, "bias", bias, {g.out_channels});
    x.backend().conv2d_forward_bias(g, mask, x, weight, bias, y);
  } else {
    x.backend().conv2d_forward(g, mask, x, weight, y);
  }
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  record(name, inputs, {&y}, [x, weight, bias, g, mask](const std::vector<Tensor>& grads) {
    const Tensor& dy = grads[0];
    Tensor dx, dw, db;
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      x.backend().conv2d_backward_data(g, mask, dy, weight, dx);
    }
    weight_bias_grads(g, mask, x, false, weight, bias, dy, dw, db);
    if (!bias.defined()) return std::vector<Tensor>{dx, dw};
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

Conv2dGeometry conv_geometry(const Tensor& x, const Tensor& weight, int64_t stride, int64_t pad_h,
                             int64_t pad_w) {
  Conv2dGeometry g;
  g.batch = x.size(0);
  g.in_channels = x.size(1);
  g.height = x.size(2);
  g.width = x.size(3);
  g.out_channels = weight.size(0);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride = stride;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  return g;
}

void check_output_fits(const char* op, const Conv2dGeometry& g, const Tensor& x) {
  if (g.height + 2 * g.pad_h < g.kernel_h || g.width + 2 * g.pad_w < g.kernel_w)
    throw ShapeError(fmt::format(
        "{}: kernel {} does not fit input {} padded by ({}, {}); use more padding or a smaller "
        "kernel",
        op, kernel_str(g.kernel_h, g.kernel_w), shape_str(x.shape()), g.pad_h, g.pad_w));
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding) {
  const char* op = "conv2d";
  check_conv_args(op, x, weight, bias, "[K, C, kh, kw]");
  check_stride_padding(op, stride, padding);
  if (weight.size(1) != x.size(1))
    throw ShapeError(fmt::format(
        "conv2d: weight {} (layout [K, C, kh, kw]) expects {} input channels, x {} has {}",
        shape_str(weight.shape()), weight.size(1), shape_str(x.shape()), x.size(1)));
  const Conv2dGeometry g = conv_geometry(x, weight, stride, padding, padding);
  check_output_fits(op, g, x);
  return conv_recorded(op, x, weight, bias, g, ConvMask{});
}

namespace {

// masked_conv2d's checks and geometry, shared with its fused form (messages name `op`).
Conv2dGeometry masked_geometry(const char* op, const Tensor& x, const Tensor& weight,
                               const Tensor& bias, int colour_groups) {
  check_conv_args(op, x, weight, bias, "[K, C, kh, kw]");
  // Odd sizes give the kernel a centre tap; kh != kw serves PixelRNN's 1 x 3 row kernel.
  const int64_t kh = weight.size(2), kw = weight.size(3), C = x.size(1), K = weight.size(0);
  if (kh % 2 == 0 || kw % 2 == 0)
    throw ShapeError(
        fmt::format("{}: weight {} must have odd kernel sizes (kh x kw, both odd), got {}", op,
                    shape_str(weight.shape()), kernel_str(kh, kw)));
  if (weight.size(1) != C)
    throw ShapeError(
        fmt::format("{}: weight {} (layout [K, C, kh, kw]) expects {} input channels, x {} has {}",
                    op, shape_str(weight.shape()), weight.size(1), shape_str(x.shape()), C));
  if (colour_groups < 1)
    throw ShapeError(fmt::format("{}: colour_groups must be >= 1, got {}", op, colour_groups));
  if (colour_groups > 1 && (C % colour_groups != 0 || K % colour_groups != 0))
    throw ShapeError(
        fmt::format("{}: {} colour groups must divide the input channels ({}, x {}) and the "
                    "output channels ({}, weight {})",
                    op, colour_groups, C, shape_str(x.shape()), K, shape_str(weight.shape())));
  return conv_geometry(x, weight, 1, kh / 2, kw / 2);
}

}  // namespace

Tensor masked_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, MaskType type,
                     int colour_groups) {
  const char* op = "masked_conv2d";
  const Conv2dGeometry g = masked_geometry(op, x, weight, bias, colour_groups);
  return conv_recorded(op, x, weight, bias, g, ConvMask{type, colour_groups});
}

// One node for relu, convolution, bias and residual: the forward saves x (the ReLU's mask and
// the weight gradient's columns both come from it), never relu(x).
Tensor relu_masked_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, MaskType type,
                          int colour_groups, const Tensor& residual) {
  const char* op = "relu_masked_conv2d";
  const Conv2dGeometry g = masked_geometry(op, x, weight, bias, colour_groups);
  const ConvMask mask{type, colour_groups};
  if (bias.defined()) check_shape(op, "bias", bias, {g.out_channels});
  const Shape out_shape{g.batch, g.out_channels, g.out_height(), g.out_width()};
  if (residual.defined()) {
    check_same_device(op, x, residual);
    check_same_dtype(op, x, residual);
    check_shape(op, "residual", residual, out_shape);
  }
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  x.backend().relu_conv2d_forward(g, mask, x, weight, bias, residual, y);
  std::vector<Tensor> inputs{x, weight, bias, residual};
  record(op, inputs, {&y}, [x, weight, bias, residual, g, mask](const std::vector<Tensor>& grads) {
    const Tensor& dy = grads[0];
    Tensor dx, dw, db, dr;
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      x.backend().relu_conv2d_backward_data(g, mask, x, dy, weight, dx);
    }
    weight_bias_grads(g, mask, x, true, weight, bias, dy, dw, db);
    if (residual.defined() && residual.requires_grad()) dr = dy;
    return std::vector<Tensor>{dx, dw, db, dr};
  });
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
                        int64_t padding, int64_t output_padding) {
  const char* op = "conv_transpose2d";
  check_conv_args(op, x, weight, bias, "[C, K, kh, kw]");
  check_stride_padding(op, stride, padding);
  if (output_padding < 0 || output_padding >= stride)
    throw ShapeError(
        fmt::format("conv_transpose2d: output_padding must be in [0, stride) = [0, {}), got {}",
                    stride, output_padding));
  if (weight.size(0) != x.size(1))
    throw ShapeError(fmt::format(
        "conv_transpose2d: weight {} (layout [C, K, kh, kw]) expects {} input channels, x {} "
        "has {}",
        shape_str(weight.shape()), weight.size(0), shape_str(x.shape()), x.size(1)));
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  const int64_t out_h = (H - 1) * stride - 2 * padding + kh + output_padding;
  const int64_t out_w = (W - 1) * stride - 2 * padding + kw + output_padding;
  if (out_h < 1 || out_w < 1)
    throw ShapeError(fmt::format(
        "conv_transpose2d: x {} with kernel {}, stride {}, padding {} gives an empty output "
        "({} x {}); reduce the padding",
        shape_str(x.shape()), kernel_str(kh, kw), stride, padding, out_h, out_w));
  // The convolution this op is the adjoint of: y [N, K, out_h, out_w] -> x [N, C, H, W] with
  // weight [C, K, kh, kw]. Its output size is H exactly because output_padding < stride.
  Conv2dGeometry g;
  g.batch = N;
  g.in_channels = K;
  g.height = out_h;
  g.width = out_w;
  g.out_channels = C;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.stride = stride;
  g.pad_h = padding;
  g.pad_w = padding;
  GM_CHECK(g.out_height() == H && g.out_width() == W,
           "conv_transpose2d: internal geometry mismatch ({}x{} vs {}x{})", g.out_height(),
           g.out_width(), H, W);
  Tensor y = Tensor::empty({N, K, out_h, out_w}, x.dtype(), x.device());
  x.backend().conv2d_backward_data(g, ConvMask{}, x, weight, y);
  record(op, {x, weight}, {&y}, [x, weight, g](const std::vector<Tensor>& grads) {
    const Tensor& dy = grads[0];
    Tensor dx, dw;
    if (x.requires_grad()) {  // the adjoint of the adjoint: the convolution itself
      dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      x.backend().conv2d_forward(g, ConvMask{}, dy, weight, dx);
    }
    if (weight.requires_grad()) {  // dW[c, k] = sum x[c] (*) dy[k]: conv's input is dy here
      dw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
      x.backend().conv2d_backward_weight(g, ConvMask{}, dy, x, dw);
    }
    return std::vector<Tensor>{dx, dw};
  });
  return add_bias(op, y, bias);
}

}  // namespace gm

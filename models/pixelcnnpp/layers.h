#pragma once
// PixelCNN++'s causal building blocks (Salimans et al. 2017). Instead of masking a kernel, a
// convolution is made causal by where its input is padded: a "down" convolution pads kh - 1
// rows on top and none below, so output row i sees input rows i - kh + 1 .. i; a "down-right"
// one also pads kw - 1 columns on the left and none on the right, so it sees only columns
// j - kw + 1 .. j. Shifting a result down one row (or right one column) then excludes the
// current row (column). Two streams built this way cover the whole causal region: the
// vertical stream u (2x3 down convolutions: everything above) and the horizontal stream ul
// (2x2 down-right convolutions: above and to the left), with no blind spot (docs/pixelcnnpp.md).
#include "models/nn.h"

namespace gm::models::pixelcnnpp {

enum class Shift { down, down_right };

// x [N, C, H, W] moved one row down (a zero row on top, the last row dropped) or one column
// right.
Tensor down_shift(const Tensor& x);
Tensor right_shift(const Tensor& x);
// elu(concat(x, -x)) over channels: a non-linearity that keeps the information of both signs.
Tensor concat_elu(const Tensor& x);

// A kh x kw convolution padded to be causal (see above); stride 2 halves H and W.
class ShiftedConv2d : public nn::Module {
 public:
  ShiftedConv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Shift shift, const nn::Init& init,
                int64_t stride = 1);
  Tensor operator()(const Tensor& x) const;
  // The zero rows padded on top and columns on the left: output (i, j) reads input rows
  // stride i - pad_top() + ky and columns stride j - pad_left() + kx (the fast sampler's
  // geometry too).
  int64_t pad_top() const;
  int64_t pad_left() const;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  int64_t stride() const { return stride_; }

 private:
  Tensor weight_, bias_;
  Shift shift_;
  int64_t stride_;
};

// The stride-2 transposed convolution that undoes a ShiftedConv2d's downsampling, cropped so
// that output (i, j) receives input (i', j') only from i' <= i / 2 (and j' <= j / 2 when
// down-right): output [N, out, 2H, 2W].
class ShiftedDeconv2d : public nn::Module {
 public:
  ShiftedDeconv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Shift shift,
                  const nn::Init& init);
  Tensor operator()(const Tensor& x) const;
  // Output columns dropped on the left of the full transposed convolution (1 for down: the
  // centring; 0 for down-right).
  int64_t crop_left() const { return shift_ == Shift::down ? 1 : 0; }
  const Tensor& weight() const { return weight_; }  // [in, out, kh, kw]
  const Tensor& bias() const { return bias_; }

 private:
  Tensor weight_, bias_;
  Shift shift_;
};

// The gated residual block:
//   c = conv(concat_elu(x)) [+ nin(concat_elu(aux))],   c = dropout(concat_elu(c)),
//   [a | b] = conv'(c),   y = x + a * sigmoid(b)
// with conv, conv' shifted convolutions of the block's stream and nin a 1x1 convolution that
// brings in the other stream or the matching resolution's short-cut.
class GatedResnet : public nn::Module {
 public:
  // aux_channels = 0: no auxiliary input.
  GatedResnet(int64_t filters, int64_t aux_channels, Shift shift, double dropout,
              const nn::Init& init);
  // `dropout_gen` null: no dropout (evaluation, sampling).
  Tensor operator()(const Tensor& x, const Tensor& aux, Generator* dropout_gen) const;
  // The block's layers, for the fast sampler (which evaluates them one position at a time).
  const ShiftedConv2d& conv_in() const { return *in_; }
  const nn::Conv2d* conv_aux() const { return aux_; }  // null without an auxiliary input
  const ShiftedConv2d& conv_gate() const { return *gate_; }

 private:
  ShiftedConv2d* in_ = nullptr;
  nn::Conv2d* aux_ = nullptr;
  ShiftedConv2d* gate_ = nullptr;
  double dropout_;
};

}  // namespace gm::models::pixelcnnpp

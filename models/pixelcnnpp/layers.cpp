#include "models/pixelcnnpp/layers.h"

namespace gm::models::pixelcnnpp {

Tensor down_shift(const Tensor& x) {
  return pad2d(x, 1, -1, 0, 0);
}

Tensor right_shift(const Tensor& x) {
  return pad2d(x, 0, 0, 1, -1);
}

Tensor concat_elu(const Tensor& x) {
  return elu(concat({x, -x}, 1));
}

namespace {

// The 2x3 vertical kernel in the paper, 2x2 horizontal: the two kernel shapes of each stream.
struct Kernel {
  int64_t h, w;
};
Kernel stream_kernel(Shift shift) {
  return shift == Shift::down ? Kernel{2, 3} : Kernel{2, 2};
}

}  // namespace

ShiftedConv2d::ShiftedConv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Shift shift,
                             const nn::Init& init, int64_t stride)
    : shift_(shift), stride_(stride) {
  GM_CHECK(shift == Shift::down_right || kw % 2 == 1,
           "a down-shifted convolution needs an odd kernel width (centred), got {}x{}", kh, kw);
  const int64_t fan_in = in * kh * kw;
  weight_ = add_parameter("weight", {out, in, kh, kw}, fan_in, init);
  bias_ = add_parameter("bias", {out}, fan_in, init);
}

int64_t ShiftedConv2d::pad_top() const {
  return weight_.size(2) - 1;
}

int64_t ShiftedConv2d::pad_left() const {
  const int64_t kw = weight_.size(3);
  return shift_ == Shift::down ? (kw - 1) / 2 : kw - 1;
}

Tensor ShiftedConv2d::operator()(const Tensor& x) const {
  // Down: centred, as many columns on the right as on the left; down-right: none on the right.
  const int64_t right = shift_ == Shift::down ? pad_left() : 0;
  return conv2d(pad2d(x, pad_top(), 0, pad_left(), right), weight_, bias_, stride_, 0);
}

ShiftedDeconv2d::ShiftedDeconv2d(int64_t in, int64_t out, int64_t kh, int64_t kw, Shift shift,
                                 const nn::Init& init)
    : shift_(shift) {
  GM_CHECK(kh == 2 && (shift == Shift::down ? kw == 3 : kw == 2),
           "a shifted transposed convolution is 2x3 (down) or 2x2 (down-right), got {}x{}", kh, kw);
  // PyTorch's fan-in for a transposed convolution's weight [in, out, kh, kw]: out * kh * kw.
  const int64_t fan_in = out * kh * kw;
  weight_ = add_parameter("weight", {in, out, kh, kw}, fan_in, init);
  bias_ = add_parameter("bias", {out}, fan_in, init);
}

Tensor ShiftedDeconv2d::operator()(const Tensor& x) const {
  // Stride 2: input row i lands on output rows 2i, 2i + 1 (kh = 2), exactly 2H rows. A 2x3 down
  // kernel spreads column j over 2j .. 2j + 2, 2W + 1 columns: dropping the first centres it
  // (columns 2j - 1 .. 2j + 1); a 2x2 kernel gives 2W columns, each from j <= its half.
  const Tensor y = conv_transpose2d(x, weight_, bias_, 2, 0, 0);
  return crop_left() > 0 ? pad2d(y, 0, 0, -crop_left(), 0) : y;
}

GatedResnet::GatedResnet(int64_t filters, int64_t aux_channels, Shift shift, double dropout,
                         const nn::Init& init)
    : dropout_(dropout) {
  const Kernel k = stream_kernel(shift);
  in_ = &add_module<ShiftedConv2d>("conv_in", 2 * filters, filters, k.h, k.w, shift, init);
  if (aux_channels > 0)
    aux_ = &add_module<nn::Conv2d>("conv_aux", 2 * aux_channels, filters, 1, init);
  gate_ = &add_module<ShiftedConv2d>("conv_gate", 2 * filters, 2 * filters, k.h, k.w, shift, init);
}

Tensor GatedResnet::operator()(const Tensor& x, const Tensor& aux, Generator* dropout_gen) const {
  GM_CHECK(aux.defined() == (aux_ != nullptr),
           "gated resnet block: built {} an auxiliary input but called {} one",
           aux_ ? "with" : "without", aux.defined() ? "with" : "without");
  Tensor c = (*in_)(concat_elu(x));
  if (aux_) c = c + (*aux_)(concat_elu(aux));
  c = concat_elu(c);
  if (dropout_gen) c = nn::dropout(c, dropout_, *dropout_gen);
  const Tensor ab = (*gate_)(c);
  const int64_t f = x.size(1);
  return x + slice(ab, 1, 0, f) * sigmoid(slice(ab, 1, f, 2 * f));
}

}  // namespace gm::models::pixelcnnpp

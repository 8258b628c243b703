// The recurrence shared by both PixelRNN layers: an LSTM that walks down dim 2 of a map, one
// whole line of positions per step, with a 1-D convolution along the line as its
// state-to-state transition.
//
//   input  x [N, 4h, T, L]  input-to-state pre-activations, already computed for the whole map
//   weight w [4h, h, k]     state-to-state convolution (PyTorch Conv1d layout), tap j of
//                           position l reads the previous step's h at l + j - pad_before
//                           (zero outside [0, L))
//   bias   b [4h]           added to every gate pre-activation
//
//   for t = 0 .. T-1 (h_{-1} = c_{-1} = 0):
//     gates_t = x[:, :, t, :] + conv1d(h_{t-1}, w) + b          [i, f, o, g] blocks of h
//     c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g);  h_t = sigmoid(o) tanh(c_t)   (lstm_cell)
//   returns h [N, h, T, L]
//
// Row LSTM: T = rows, L = columns, k = 3, pad_before = 1 (row r sees columns c-1, c, c+1 of
// row r-1). Diagonal BiLSTM: the skewed map stored column-first, T = skewed columns,
// L = rows, k = 2, pad_before = 1 (row r sees rows r-1 and r of the previous column).
//
// `groups` (colour channels): the 4h gate channels are ordered (group, gate, unit) and the h
// hidden channels (group, unit), so that each colour group's units form contiguous blocks,
// as the masked convolutions around the scan expect. With groups = 1 this is the usual
// [i, f, o, g] order.
//
// Why one autograd node and not a loop of ops: the scan runs T sequential steps, and each step
// is one GEMM (the state-to-state convolution, im2col'ed, for all N*L positions at once) plus
// the fused LSTM cell. Recording each step as ops would cost T slices whose backward each
// zero-fills a tensor the size of x (O(T^2) memory traffic). Here forward and the
// backpropagation through time sit side by side, like cuDNN's RNN, and the gradient is
// checked against finite differences in tests/test_pixelrnn.cpp.// Declaration: engine/ops.h.
#include <algorithm>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace gm {

namespace {

// Sizes of one scan. Per step, every buffer is channel-major over the N*L positions of the
// line ([channels, N, L]), so the state-to-state convolution is one GEMM
// [4h, h*k + 1] x [h*k + 1, N*L] and the LSTM cell sees gates [groups, 4h/groups, N*L].
struct Dims {
  int64_t n = 0, t = 0, l = 0;  // batch, steps, positions per step
  int64_t h = 0, k = 0, pad = 0, groups = 1;
  int64_t nl() const { return n * l; }
  int64_t hk() const { return h * k; }  // im2col rows (channel-major: row c*k + j)
};

// Moves step `t` of a [N, C, T, L] map to (or from) a [C, N, L] step buffer. Runs of L
// elements are contiguous on both sides.
StridedCopy step_box(const Dims& d, int64_t channels, int64_t t, bool buffer_to_map) {
  StridedCopy box;
  box.ndim = 3;
  box.extent = {channels, d.n, d.l};
  const DimArray map{d.t * d.l, channels * d.t * d.l, 1};
  const DimArray buffer{d.n * d.l, d.l, 1};
  box.src_stride = buffer_to_map ? buffer : map;
  box.dst_stride = buffer_to_map ? map : buffer;
  (buffer_to_map ? box.dst_offset : box.src_offset) = t * d.l;
  return box;
}

// The valid positions l of tap j: those where l + (j - pad) lies inside [0, L).
struct TapRange {
  int64_t shift, lo, hi;
};
TapRange tap_range(const Dims& d, int64_t j) {
  const int64_t shift = j - d.pad;
  return {shift, std::max<int64_t>(0, -shift), std::min(d.l, d.l - shift)};
}

// Copies tap j between a state [h, N, L] and the im2col rows c*k + j of cols [h*k+1, N, L]:
// cols[c*k + j, n, l] <-> state[c, n, l + shift] for the valid l.
StridedCopy tap_box(const Dims& d, int64_t j, bool state_to_cols) {
  const TapRange r = tap_range(d, j);
  StridedCopy box;
  box.ndim = 3;
  box.extent = {d.h, d.n, std::max<int64_t>(0, r.hi - r.lo)};
  const DimArray state{d.nl(), d.l, 1};
  const DimArray cols{d.k * d.nl(), d.l, 1};
  const int64_t state_offset = r.lo + r.shift, cols_offset = j * d.nl() + r.lo;
  box.src_stride = state_to_cols ? state : cols;
  box.dst_stride = state_to_cols ? cols : state;
  box.src_offset = state_to_cols ? state_offset : cols_offset;
  box.dst_offset = state_to_cols ? cols_offset : state_offset;
  return box;
}

// cols [h*k+1, N, L] for im2col: zeros (the positions a tap reads outside the line stay zero
// for good) and a last row of ones, which multiplies the bias column of the augmented weight.
// One buffer serves every step: each step overwrites only the in-range taps.
Tensor make_cols(Backend& be, const Dims& d, const Tensor& ones) {
  Tensor cols = Tensor::empty({d.hk() + 1, d.n, d.l}, ones.dtype(), ones.device());
  be.fill(cols, 0.0);
  StridedCopy row;
  row.ndim = 1;
  row.extent = {d.nl()};
  row.src_stride = {1};
  row.dst_stride = {1};
  row.dst_offset = d.hk() * d.nl();
  be.strided_copy(ones, cols, row);
  return cols;
}

// Writes the im2col of the state h_prev [h, N, L] into cols (made by make_cols).
void im2col(Backend& be, const Dims& d, const Tensor& h_prev, Tensor& cols) {
  for (int64_t j = 0; j < d.k; ++j)
    be.strided_copy(h_prev, cols, tap_box(d, j, true));
}

// The adjoint of im2col's state part, added to dh: dh[c, n, l + shift] += dcols[c*k + j, n, l].
void col2im_add(Backend& be, const Dims& d, const Tensor& dcols, Tensor& dh, Tensor& tap) {
  for (int64_t j = 0; j < d.k; ++j) {
    if (tap_range(d, j).shift != 0) be.fill(tap, 0.0);  // positions no l maps to stay zero
    be.strided_copy(dcols, tap, tap_box(d, j, false));
    be.axpy(1.0, tap, dh);
  }
}

// Box between weight [4h, h*k] (or bias [4h]) and the augmented weight [4h, h*k + 1].
StridedCopy augmented_box(const Dims& d, bool bias, bool to_augmented) {
  StridedCopy box;
  box.ndim = 2;
  const int64_t cols = bias ? 1 : d.hk();
  box.extent = {4 * d.h, cols};
  const DimArray plain{cols, 1}, augmented{d.hk() + 1, 1};
  box.src_stride = to_augmented ? plain : augmented;
  box.dst_stride = to_augmented ? augmented : plain;
  (to_augmented ? box.dst_offset : box.src_offset) = bias ? d.hk() : 0;
  return box;
}

Tensor lstm_view(const Tensor& t, const Dims& d) {  // [groups, channels/groups, N*L]
  return reshape(t, {d.groups, t.size(0) / d.groups, d.nl()});
}

// C = op(A) op(B) (+ C when accumulate), all 2-D row-major.
void gemm(Backend& be, const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& c,
          bool accumulate) {
  Gemm g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = c.size(0);
  g.n = c.size(1);
  g.k = ta ? a.size(0) : a.size(1);
  g.beta = accumulate ? 1.0 : 0.0;
  be.gemm(g, a, b, c);
}

// What the backward pass needs from the forward: per step the gate pre-activations, the cell
// and the hidden state.
struct Saved {
  std::vector<Tensor> gates, c, h;
  Tensor w_aug, zero_state, ones;
};

Tensor scan_backward(const Dims& d, const Saved& s, const Tensor& dout, const Shape& x_shape,
                     Tensor& dweight, Tensor& dbias) {
  Backend& be = s.w_aug.backend();
  const DType dt = s.w_aug.dtype();
  const Device dev = s.w_aug.device();
  Tensor dx = Tensor::empty(x_shape, dt, dev);
  Tensor dw_aug = Tensor::zeros(s.w_aug.shape(), dt, dev);
  Tensor cols = make_cols(be, d, s.ones);
  Tensor dcols = Tensor::empty({d.hk() + 1, d.nl()}, dt, dev);
  Tensor tap = Tensor::empty({d.h, d.n, d.l}, dt, dev);
  // dh for step t: the output's gradient plus what step t+1's state-to-state conv sends back.
  Tensor dh = Tensor::empty({d.h, d.n, d.l}, dt, dev);
  auto load_output_grad = [&](int64_t t) {
    if (dout.defined())
      be.strided_copy(dout, dh, step_box(d, d.h, t, false));
    else
      be.fill(dh, 0.0);
  };
  load_output_grad(d.t - 1);
  Tensor dc_carry;  // from step t+1 into step t (undefined: zero)
  for (int64_t t = d.t; t-- > 0;) {
    const size_t ti = static_cast<size_t>(t);
    const Tensor& c_prev = t > 0 ? s.c[ti - 1] : s.zero_state;
    Tensor dgates = Tensor::empty({4 * d.h, d.n, d.l}, dt, dev);
    Tensor dc_prev = Tensor::empty({d.h, d.n, d.l}, dt, dev);
    Tensor dgates_v = lstm_view(dgates, d), dc_prev_v = lstm_view(dc_prev, d);
    be.lstm_cell_backward(lstm_view(s.gates[ti], d), lstm_view(c_prev, d), lstm_view(s.c[ti], d),
                          lstm_view(dh, d), dc_carry.defined() ? lstm_view(dc_carry, d) : Tensor(),
                          dgates_v, dc_prev_v);
    be.strided_copy(dgates, dx, step_box(d, 4 * d.h, t, true));
    const Tensor g2 = reshape(dgates, {4 * d.h, d.nl()});
    // dW_aug += dgates cols^T (the bias column sums dgates over every step and position).
    im2col(be, d, t > 0 ? s.h[ti - 1] : s.zero_state, cols);
    gemm(be, g2, false, reshape(cols, {d.hk() + 1, d.nl()}), true, dw_aug, true);
    if (t > 0) {
      gemm(be, s.w_aug, true, g2, false, dcols, false);
      load_output_grad(t - 1);
      col2im_add(be, d, dcols, dh, tap);
    }
    dc_carry = dc_prev;
  }
  dweight = Tensor::empty({4 * d.h, d.h, d.k}, dt, dev);
  dbias = Tensor::empty({4 * d.h}, dt, dev);
  be.strided_copy(dw_aug, dweight, augmented_box(d, false, false));
  be.strided_copy(dw_aug, dbias, augmented_box(d, true, false));
  return dx;
}

}  // namespace

Tensor lstm_scan(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_before,
                 int64_t groups) {
  check_floating("lstm_scan", x);
  check_ndim("lstm_scan", "x", x, 4);
  check_ndim("lstm_scan", "weight", weight, 3);
  for (const Tensor* t : {&weight, &bias}) {
    check_same_device("lstm_scan", x, *t);
    check_same_dtype("lstm_scan", x, *t);
  }
  Dims d;
  d.n = x.size(0);
  d.t = x.size(2);
  d.l = x.size(3);
  d.h = weight.size(1);
  d.k = weight.size(2);
  d.pad = pad_before;
  d.groups = groups;
  check_shape("lstm_scan", "weight", weight, {4 * d.h, d.h, d.k});
  check_shape("lstm_scan", "bias", bias, {4 * d.h});
  if (x.size(1) != 4 * d.h)
    throw ShapeError(
        fmt::format("lstm_scan: x {} should have 4h = {} gate channels (h = {} from "
                    "weight {})",
                    x.describe(), 4 * d.h, d.h, weight.describe()));
  GM_CHECK(groups >= 1 && d.h % groups == 0,
           "lstm_scan: {} hidden units cannot be split into {} colour groups", d.h, groups);
  GM_CHECK(pad_before >= 0 && pad_before < d.k,
           "lstm_scan: pad_before {} must lie in [0, kernel {}) so that position l sees itself",
           pad_before, d.k);

  Backend& be = x.backend();
  const DType dt = x.dtype();
  const Device dev = x.device();
  const bool keep = needs_grad({&x, &weight, &bias});
  Saved s;
  s.w_aug = Tensor::empty({4 * d.h, d.hk() + 1}, dt, dev);
  be.strided_copy(weight, s.w_aug, augmented_box(d, false, true));
  be.strided_copy(bias, s.w_aug, augmented_box(d, true, true));
  s.zero_state = Tensor::zeros({d.h, d.n, d.l}, dt, dev);
  s.ones = Tensor::ones({d.nl()}, dt, dev);

  Tensor out = Tensor::empty({d.n, d.h, d.t, d.l}, dt, dev);
  Tensor cols = make_cols(be, d, s.ones);
  Tensor h_prev = s.zero_state, c_prev = s.zero_state;
  for (int64_t t = 0; t < d.t; ++t) {
    Tensor gates = Tensor::empty({4 * d.h, d.n, d.l}, dt, dev);
    be.strided_copy(x, gates, step_box(d, 4 * d.h, t, false));
    Tensor g2 = reshape(gates, {4 * d.h, d.nl()});
    if (t > 0) im2col(be, d, h_prev, cols);  // at t = 0 the state part is still all zeros
    gemm(be, s.w_aug, false, reshape(cols, {d.hk() + 1, d.nl()}), false, g2, true);
    Tensor h = Tensor::empty({d.h, d.n, d.l}, dt, dev);
    Tensor c = Tensor::empty({d.h, d.n, d.l}, dt, dev);
    Tensor h_v = lstm_view(h, d), c_v = lstm_view(c, d);
    be.lstm_cell_forward(lstm_view(gates, d), lstm_view(c_prev, d), h_v, c_v);
    be.strided_copy(h, out, step_box(d, d.h, t, true));
    if (keep) {
      s.gates.push_back(gates);
      s.c.push_back(c);
      s.h.push_back(h);
    }
    h_prev = h;
    c_prev = c;
  }
  if (keep) {
    const Shape x_shape = x.shape();
    record("lstm_scan", {x, weight, bias}, {&out},
           [d, s = std::move(s), x_shape](const std::vector<Tensor>& g) {
             Tensor dweight, dbias;
             Tensor dx = scan_backward(d, s, g[0], x_shape, dweight, dbias);
             return std::vector<Tensor>{dx, dweight, dbias};
           });
  }
  return out;
}

}  // namespace gm

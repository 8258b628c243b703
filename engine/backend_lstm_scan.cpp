// The default of the scan entries (engine/backend_ops.def: lstm_scan_forward and
// lstm_scan_backward): the PixelRNN scan as a loop over its T steps, each step built from
// other entries. Per step, every buffer is channel-major over the N*L positions of the line
// ([channels, N, L]), so the state-to-state convolution is one GEMM
// [4h, h*k + 1] x [h*k + 1, N*L] (the bias rides along as a row of ones) and the LSTM cell
// sees gates [groups, 4h/groups, N*L]. The CPU runs this; a backend that can walk all steps in
// one kernel overrides it (the CUDA backend, kernels/cuda/backend_scan.cpp).
#include <algorithm>
#include <utility>

#include "engine/backend.h"
#include "engine/ops.h"

namespace gm {

namespace {

// The strides of step t of a [N, C, T, L] map, and of a [C, N, L] step buffer, both in the
// order (channel, image, position).
DimArray map_strides(const LstmScan& s, int64_t channels) {
  return {s.steps * s.length, channels * s.steps * s.length, 1};
}
DimArray buffer_strides(const LstmScan& s) {
  return {s.positions(), s.length, 1};
}

// Moves step `t` of a [N, C, T, L] map to (or from) a [C, N, L] step buffer. Runs of L
// elements are contiguous on both sides.
StridedCopy step_box(const LstmScan& s, int64_t channels, int64_t t, bool buffer_to_map) {
  StridedCopy box;
  box.ndim = 3;
  box.extent = {channels, s.batch, s.length};
  const DimArray map = map_strides(s, channels), buffer = buffer_strides(s);
  box.src_stride = buffer_to_map ? buffer : map;
  box.dst_stride = buffer_to_map ? map : buffer;
  (buffer_to_map ? box.dst_offset : box.src_offset) = t * s.length;
  return box;
}

// The valid positions l of tap j: those where l + (j - pad) lies inside [0, L).
struct TapRange {
  int64_t shift, lo, hi;
};
TapRange tap_range(const LstmScan& s, int64_t j) {
  const int64_t shift = j - s.pad_before;
  return {shift, std::max<int64_t>(0, -shift), std::min(s.length, s.length - shift)};
}

// Copies tap j between a state and the im2col rows c*k + j of cols [h*k+1, N, L]:
// cols[c*k + j, n, l] <-> state[c, n, l + shift] for the valid l. The state is a [h, N, L]
// buffer (state_offset 0) or step t of the [N, h, T, L] map of every step's h (strides from
// map_strides, state_offset t * L).
StridedCopy tap_box(const LstmScan& s, int64_t j, bool state_to_cols, const DimArray& state,
                    int64_t state_offset) {
  const TapRange r = tap_range(s, j);
  StridedCopy box;
  box.ndim = 3;
  box.extent = {s.hidden, s.batch, std::max<int64_t>(0, r.hi - r.lo)};
  const DimArray cols{s.kernel * s.positions(), s.length, 1};
  const int64_t state_at = state_offset + r.lo + r.shift, cols_at = j * s.positions() + r.lo;
  box.src_stride = state_to_cols ? state : cols;
  box.dst_stride = state_to_cols ? cols : state;
  box.src_offset = state_to_cols ? state_at : cols_at;
  box.dst_offset = state_to_cols ? cols_at : state_at;
  return box;
}

// cols [h*k+1, N, L] for im2col: zeros (the positions a tap reads outside the line stay zero
// for good) and a last row of ones, which multiplies the bias column of the augmented weight.
// One buffer serves every step: each step overwrites only the in-range taps.
Tensor make_cols(Backend& be, const LstmScan& s, DType dt, Device dev) {
  const Tensor ones = Tensor::ones({s.positions()}, dt, dev);
  Tensor cols = Tensor::empty({s.taps() + 1, s.batch, s.length}, dt, dev);
  be.fill(cols, 0.0);
  StridedCopy row;
  row.ndim = 1;
  row.extent = {s.positions()};
  row.src_stride = {1};
  row.dst_stride = {1};
  row.dst_offset = s.taps() * s.positions();
  be.strided_copy(ones, cols, row);
  return cols;
}

// Writes the im2col of a state (see tap_box) into cols (made by make_cols).
void im2col(Backend& be, const LstmScan& s, const Tensor& state, const DimArray& strides,
            int64_t offset, Tensor& cols) {
  for (int64_t j = 0; j < s.kernel; ++j)
    be.strided_copy(state, cols, tap_box(s, j, true, strides, offset));
}

// The adjoint of im2col's state part, added to dh: dh[c, n, l + shift] += dcols[c*k + j, n, l].
void col2im_add(Backend& be, const LstmScan& s, const Tensor& dcols, Tensor& dh, Tensor& tap) {
  for (int64_t j = 0; j < s.kernel; ++j) {
    if (tap_range(s, j).shift != 0) be.fill(tap, 0.0);  // positions no l maps to stay zero
    be.strided_copy(dcols, tap, tap_box(s, j, false, buffer_strides(s), 0));
    be.axpy(1.0, tap, dh);
  }
}

// Box between weight [4h, h*k] (or bias [4h]) and the augmented weight [4h, h*k + 1].
StridedCopy augmented_box(const LstmScan& s, bool bias, bool to_augmented) {
  StridedCopy box;
  box.ndim = 2;
  const int64_t cols = bias ? 1 : s.taps();
  box.extent = {s.gates(), cols};
  const DimArray plain{cols, 1}, augmented{s.taps() + 1, 1};
  box.src_stride = to_augmented ? plain : augmented;
  box.dst_stride = to_augmented ? augmented : plain;
  (to_augmented ? box.dst_offset : box.src_offset) = bias ? s.taps() : 0;
  return box;
}

Tensor lstm_view(const Tensor& t, const LstmScan& s) {  // [groups, channels/groups, N*L]
  return reshape(t, {s.groups, t.size(0) / s.groups, s.positions()});
}

// C = op(A) op(B) (+ C when accumulate), all 2-D row-major.
void gemm_2d(Backend& be, const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor& c,
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

}  // namespace

void Backend::lstm_scan_forward(const LstmScan& s, const Tensor& x, const Tensor& weight,
                                const Tensor& bias, Tensor& h, Tensor& c, Tensor& gates) {
  const DType dt = x.dtype();
  const Device dev = x.device();
  Tensor w_aug = Tensor::empty({s.gates(), s.taps() + 1}, dt, dev);
  strided_copy(weight, w_aug, augmented_box(s, false, true));
  strided_copy(bias, w_aug, augmented_box(s, true, true));
  const Tensor zero_state = Tensor::zeros({s.hidden, s.batch, s.length}, dt, dev);
  Tensor cols = make_cols(*this, s, dt, dev);
  Tensor gates_t = Tensor::empty({s.gates(), s.batch, s.length}, dt, dev);
  Tensor h_t = Tensor::empty({s.hidden, s.batch, s.length}, dt, dev);
  // The cell reads c_{t-1} while it writes c_t: two buffers, taking turns.
  Tensor c_buffers[2] = {Tensor::empty(h_t.shape(), dt, dev), Tensor::empty(h_t.shape(), dt, dev)};
  Tensor c_prev = zero_state;
  for (int64_t t = 0; t < s.steps; ++t) {
    strided_copy(x, gates_t, step_box(s, s.gates(), t, false));
    Tensor g2 = reshape(gates_t, {s.gates(), s.positions()});
    // At t = 0 the state part of cols is still all zeros; later h_t holds step t-1.
    if (t > 0) im2col(*this, s, h_t, buffer_strides(s), 0, cols);
    gemm_2d(*this, w_aug, false, reshape(cols, {s.taps() + 1, s.positions()}), false, g2, true);
    Tensor& c_t = c_buffers[t % 2];
    Tensor h_v = lstm_view(h_t, s), c_v = lstm_view(c_t, s);
    lstm_cell_forward(lstm_view(gates_t, s), lstm_view(c_prev, s), h_v, c_v);
    strided_copy(h_t, h, step_box(s, s.hidden, t, true));
    strided_copy(c_t, c, step_box(s, s.hidden, t, true));
    if (gates.defined()) strided_copy(gates_t, gates, step_box(s, s.gates(), t, true));
    c_prev = c_t;
  }
}

void Backend::lstm_scan_backward(const LstmScan& s, const Tensor& weight, const Tensor& h,
                                 const Tensor& c, const Tensor& gates, const Tensor& dh_all,
                                 Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const DType dt = weight.dtype();
  const Device dev = weight.device();
  // W^T dgates needs the weight only; the augmented layout (bias column 0) keeps the GEMM the
  // forward's.
  Tensor w_aug = Tensor::zeros({s.gates(), s.taps() + 1}, dt, dev);
  strided_copy(weight, w_aug, augmented_box(s, false, true));
  Tensor dw_aug = Tensor::zeros(w_aug.shape(), dt, dev);
  Tensor cols = make_cols(*this, s, dt, dev);
  Tensor dcols = Tensor::empty({s.taps() + 1, s.positions()}, dt, dev);
  const Shape state{s.hidden, s.batch, s.length};
  const Tensor zero_state = Tensor::zeros(state, dt, dev);
  Tensor tap = Tensor::empty(state, dt, dev);
  Tensor gates_t = Tensor::empty({s.gates(), s.batch, s.length}, dt, dev);
  Tensor dgates = Tensor::empty(gates_t.shape(), dt, dev);
  Tensor c_t = Tensor::empty(state, dt, dev), c_prev = Tensor::empty(state, dt, dev);
  Tensor dc_carry, dc_prev = Tensor::empty(state, dt, dev);  // dc_carry undefined: zero
  // dh for step t: the output's gradient plus what step t+1's state-to-state conv sends back.
  Tensor dh = Tensor::empty(state, dt, dev);
  auto load_output_grad = [&](int64_t t) {
    if (dh_all.defined())
      strided_copy(dh_all, dh, step_box(s, s.hidden, t, false));
    else
      fill(dh, 0.0);
  };
  load_output_grad(s.steps - 1);
  strided_copy(c, c_t, step_box(s, s.hidden, s.steps - 1, false));
  for (int64_t t = s.steps; t-- > 0;) {
    strided_copy(gates, gates_t, step_box(s, s.gates(), t, false));
    if (t > 0) strided_copy(c, c_prev, step_box(s, s.hidden, t - 1, false));
    Tensor dgates_v = lstm_view(dgates, s), dc_prev_v = lstm_view(dc_prev, s);
    lstm_cell_backward(lstm_view(gates_t, s), lstm_view(t > 0 ? c_prev : zero_state, s),
                       lstm_view(c_t, s), lstm_view(dh, s),
                       dc_carry.defined() ? lstm_view(dc_carry, s) : Tensor(), dgates_v, dc_prev_v);
    strided_copy(dgates, dx, step_box(s, s.gates(), t, true));
    const Tensor g2 = reshape(dgates, {s.gates(), s.positions()});
    // dW_aug += dgates cols^T (the bias column sums dgates over every step and position).
    if (t > 0)
      im2col(*this, s, h, map_strides(s, s.hidden), (t - 1) * s.length, cols);
    else
      im2col(*this, s, zero_state, buffer_strides(s), 0, cols);
    gemm_2d(*this, g2, false, reshape(cols, {s.taps() + 1, s.positions()}), true, dw_aug, true);
    if (t > 0) {
      gemm_2d(*this, w_aug, true, g2, false, dcols, false);
      load_output_grad(t - 1);
      col2im_add(*this, s, dcols, dh, tap);
    }
    // Step t-1's c is the next step's c_t; its dc_prev the next step's carry.
    std::swap(c_t, c_prev);
    if (!dc_carry.defined()) dc_carry = Tensor::empty(state, dt, dev);
    std::swap(dc_carry, dc_prev);
  }
  strided_copy(dw_aug, dweight, augmented_box(s, false, false));
  strided_copy(dw_aug, dbias, augmented_box(s, true, false));
}

}  // namespace gm

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
// Why one autograd node and not a loop of ops: the scan runs T sequential steps. Recording
// each step as ops would cost T slices whose backward each zero-fills a tensor the size of x
// (O(T^2) memory traffic). Here the whole forward is one backend entry, lstm_scan_forward, and
// the backpropagation through time another, lstm_scan_backward (engine/backend_ops.def), like
// cuDNN's RNN: the default (engine/backend_lstm_scan.cpp, the CPU's) is a loop of one GEMM and
// the fused LSTM cell per step; the CUDA backend walks all steps in one kernel
// (kernels/cuda/lstm_scan.cu). The gradient is checked against finite differences in
// tests/test_pixelrnn.cpp.
// Declaration: engine/ops.h.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace gm {

Tensor lstm_scan(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_before,
                 int64_t groups) {
  check_floating("lstm_scan", x);
  check_ndim("lstm_scan", "x", x, 4);
  check_ndim("lstm_scan", "weight", weight, 3);
  for (const Tensor* t : {&weight, &bias}) {
    check_same_device("lstm_scan", x, *t);
    check_same_dtype("lstm_scan", x, *t);
  }
  const LstmScan s{.batch = x.size(0),
                   .steps = x.size(2),
                   .length = x.size(3),
                   .hidden = weight.size(1),
                   .kernel = weight.size(2),
                   .pad_before = pad_before,
                   .groups = groups};
  check_shape("lstm_scan", "weight", weight, {s.gates(), s.hidden, s.kernel});
  check_shape("lstm_scan", "bias", bias, {s.gates()});
  if (x.size(1) != s.gates())
    throw ShapeError(
        fmt::format("lstm_scan: x {} should have 4h = {} gate channels (h = {} from "
                    "weight {})",
                    x.describe(), s.gates(), s.hidden, weight.describe()));
  GM_CHECK(groups >= 1 && s.hidden % groups == 0,
           "lstm_scan: {} hidden units cannot be split into {} colour groups", s.hidden, groups);
  GM_CHECK(pad_before >= 0 && pad_before < s.kernel,
           "lstm_scan: pad_before {} must lie in [0, kernel {}) so that position l sees itself",
           pad_before, s.kernel);

  Backend& be = x.backend();
  const DType dt = x.dtype();
  const Device dev = x.device();
  const bool keep = needs_grad({&x, &weight, &bias});
  Tensor out = Tensor::empty({s.batch, s.hidden, s.steps, s.length}, dt, dev);
  Tensor c = Tensor::empty(out.shape(), dt, dev);
  Tensor gates = keep ? Tensor::empty(x.shape(), dt, dev) : Tensor();
  be.lstm_scan_forward(s, x, weight, bias, out, c, gates);
  if (keep) {
    record("lstm_scan", {x, weight, bias}, {&out},
           [s, w = weight.detach(), h = out.detach(), c, gates](const std::vector<Tensor>& g) {
             Tensor dx = Tensor::empty(gates.shape(), w.dtype(), w.device());
             Tensor dweight = Tensor::empty(w.shape(), w.dtype(), w.device());
             Tensor dbias = Tensor::empty({s.gates()}, w.dtype(), w.device());
             w.backend().lstm_scan_backward(s, w, h, c, gates, g[0], dx, dweight, dbias);
             return std::vector<Tensor>{dx, dweight, dbias};
           });
  }
  return out;
}

}  // namespace gm

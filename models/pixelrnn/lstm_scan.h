#pragma once
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
// checked against finite differences in tests/test_pixelrnn.cpp.
#include <cstdint>

#include "engine/tensor.h"

namespace gm::pixelrnn {

Tensor lstm_scan(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_before,
                 int64_t groups = 1);

}  // namespace gm::pixelrnn

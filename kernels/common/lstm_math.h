#pragma once
// One element of the LSTM cell with fused gates (i, f, o, g), shared by every backend.
//
//   i = sigmoid(a_i)  f = sigmoid(a_f)  o = sigmoid(a_o)  g = tanh(a_g)
//   c = f c_prev + i g                    h = o tanh(c)
//
// The backward recomputes the gate activations from the pre-activations (four sigmoids and
// two tanh are cheaper than storing four more tensors) and takes the cell state c from the
// forward. With dc_total = dc + dh o (1 - tanh(c)^2), the gradient flowing into c:
//
//   da_i = dc_total g i (1 - i)      da_f = dc_total c_prev f (1 - f)
//   da_o = dh tanh(c) o (1 - o)      da_g = dc_total i (1 - g^2)
//   dc_prev = dc_total f
#include "kernels/common/fast_math.h"
#include "kernels/common/hd.h"
#include "kernels/common/unary_math.h"

// The activations are math::fused's: branch-free in float (kernels/common/fast_math.h), the C
// library's in double.

namespace gm::math {

template <typename T>
struct LstmOut {
  T h, c;
};

template <typename T>
GM_HD LstmOut<T> lstm_forward(T a_i, T a_f, T a_o, T a_g, T c_prev) {
  const T i = fused::sigmoid(a_i), f = fused::sigmoid(a_f), o = fused::sigmoid(a_o);
  const T g = fused::tanh(a_g);
  const T c = f * c_prev + i * g;
  return {o * fused::tanh(c), c};
}

template <typename T>
struct LstmGrad {
  T d_i, d_f, d_o, d_g;  // gradients of the four pre-activations
  T d_c_prev;
};

// dh and dc are the gradients arriving at h and c (pass 0 for one that received none).
template <typename T>
GM_HD LstmGrad<T> lstm_backward(T a_i, T a_f, T a_o, T a_g, T c_prev, T c, T dh, T dc) {
  const T i = fused::sigmoid(a_i), f = fused::sigmoid(a_f), o = fused::sigmoid(a_o);
  const T g = fused::tanh(a_g);
  const T tc = fused::tanh(c);
  const T dc_total = dc + dh * o * (T(1) - tc * tc);
  LstmGrad<T> r;
  r.d_i = dc_total * g * i * (T(1) - i);
  r.d_f = dc_total * c_prev * f * (T(1) - f);
  r.d_o = dh * tc * o * (T(1) - o);
  r.d_g = dc_total * i * (T(1) - g * g);
  r.d_c_prev = dc_total * f;
  return r;
}

}  // namespace gm::math

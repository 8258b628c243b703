#pragma once
// Scalar forward and derivative of every elementwise op, shared by the CPU and CUDA kernels
// so the two backends cannot disagree on a formula.
#include <cmath>

#include "kernels/common/hd.h"
#include "kernels/common/op_types.h"

namespace gm::math {

// Float and double overloads that resolve identically under g++ and nvcc (the global
// ::exp(float) of <cmath> would silently compute in double on the host).
#define GM_MATH_OVERLOAD(name)  \
  GM_HD float name(float x) {   \
    return ::name##f(x);        \
  }                             \
  GM_HD double name(double x) { \
    return ::name(x);           \
  }
GM_MATH_OVERLOAD(exp)
GM_MATH_OVERLOAD(log)
GM_MATH_OVERLOAD(tanh)
GM_MATH_OVERLOAD(expm1)
GM_MATH_OVERLOAD(log1p)
GM_MATH_OVERLOAD(sqrt)
#undef GM_MATH_OVERLOAD

template <typename T>
GM_HD T sigmoid(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  T e = exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) without overflow for large x or loss of precision for very negative x.
template <typename T>
GM_HD T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-(x > T(0) ? x : -x)));
}

template <typename T>
GM_HD T unary_forward(UnaryOp op, T x, T alpha, T scale, T shift) {
  switch (op) {
    case UnaryOp::neg:
      return -x;
    case UnaryOp::exp:
      return exp(x);
    case UnaryOp::log:
      return log(x);
    case UnaryOp::tanh:
      return tanh(x);
    case UnaryOp::sigmoid:
      return sigmoid(x);
    case UnaryOp::relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::elu:
      return x > T(0) ? x : alpha * expm1(x);
    case UnaryOp::softplus:
      return softplus(x);
    case UnaryOp::square:
      return x * x;
    case UnaryOp::sqrt:
      return sqrt(x);
    case UnaryOp::abs:
      return x < T(0) ? -x : x;
    case UnaryOp::affine:
      return x * scale + shift;
  }
  return T(0);
}

// dy * f'(x), given x and y = f(x).
template <typename T>
GM_HD T unary_backward(UnaryOp op, T x, T y, T dy, T alpha, T scale) {
  switch (op) {
    case UnaryOp::neg:
      return -dy;
    case UnaryOp::exp:
      return dy * y;
    case UnaryOp::log:
      return dy / x;
    case UnaryOp::tanh:
      return dy * (T(1) - y * y);
    case UnaryOp::sigmoid:
      return dy * y * (T(1) - y);
    case UnaryOp::relu:
      return x > T(0) ? dy : T(0);
    case UnaryOp::elu:
      return x > T(0) ? dy : dy * (y + alpha);
    case UnaryOp::softplus:
      return dy * sigmoid(x);
    case UnaryOp::square:
      return dy * T(2) * x;
    case UnaryOp::sqrt:
      return dy / (T(2) * y);
    case UnaryOp::abs:
      return x > T(0) ? dy : (x < T(0) ? -dy : T(0));
    case UnaryOp::affine:
      return dy * scale;
  }
  return T(0);
}

template <typename T>
GM_HD T binary_forward(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
  }
  return T(0);
}

}  // namespace gm::math

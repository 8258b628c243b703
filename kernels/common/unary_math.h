#pragma once
// Scalar forward and derivative of every elementwise op, shared by the CPU and CUDA kernels
// so the two backends cannot disagree on a formula.
#include <cmath>

#include "kernels/common/hd.h"

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

// Op codes mirror gm::UnaryOp (engine/backend.h); kept as ints so this header stays free of
// engine types and compiles for the device.
enum UnaryCode : int {
  kNeg,
  kExp,
  kLog,
  kTanh,
  kSigmoid,
  kRelu,
  kElu,
  kSoftplus,
  kSquare,
  kSqrt,
  kAbs,
  kAffine
};

template <typename T>
GM_HD T unary_forward(int op, T x, T alpha, T scale, T shift) {
  switch (op) {
    case kNeg:
      return -x;
    case kExp:
      return exp(x);
    case kLog:
      return log(x);
    case kTanh:
      return tanh(x);
    case kSigmoid:
      return sigmoid(x);
    case kRelu:
      return x > T(0) ? x : T(0);
    case kElu:
      return x > T(0) ? x : alpha * expm1(x);
    case kSoftplus:
      return softplus(x);
    case kSquare:
      return x * x;
    case kSqrt:
      return sqrt(x);
    case kAbs:
      return x < T(0) ? -x : x;
    case kAffine:
      return x * scale + shift;
  }
  return T(0);
}

// dy * f'(x), given x and y = f(x).
template <typename T>
GM_HD T unary_backward(int op, T x, T y, T dy, T alpha, T scale) {
  switch (op) {
    case kNeg:
      return -dy;
    case kExp:
      return dy * y;
    case kLog:
      return dy / x;
    case kTanh:
      return dy * (T(1) - y * y);
    case kSigmoid:
      return dy * y * (T(1) - y);
    case kRelu:
      return x > T(0) ? dy : T(0);
    case kElu:
      return x > T(0) ? dy : dy * (y + alpha);
    case kSoftplus:
      return dy * sigmoid(x);
    case kSquare:
      return dy * T(2) * x;
    case kSqrt:
      return dy / (T(2) * y);
    case kAbs:
      return x > T(0) ? dy : (x < T(0) ? -dy : T(0));
    case kAffine:
      return dy * scale;
  }
  return T(0);
}

enum BinaryCode : int { kAdd, kSub, kMul, kDiv };

template <typename T>
GM_HD T binary_forward(int op, T a, T b) {
  switch (op) {
    case kAdd:
      return a + b;
    case kSub:
      return a - b;
    case kMul:
      return a * b;
    case kDiv:
      return a / b;
  }
  return T(0);
}

}  // namespace gm::math

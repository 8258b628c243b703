#pragma once
// Fused bias + ReLU, shared by every backend: y = max(x + b, 0) with b one value per channel,
// the pattern after every biased convolution. One pass instead of two, and the backward needs
// only y: the ReLU passes the gradient where y > 0 (exactly where x + b > 0).
//   y = max(x + b, 0)        dx = dy [y > 0]        db = sum of dx over images and positions
#include "kernels/common/hd.h"

namespace gm::math {

template <typename T>
GM_HD T bias_relu(T x, T b) {
  const T z = x + b;
  return z > T(0) ? z : T(0);
}

template <typename T>
GM_HD T bias_relu_grad(T y, T dy) {
  return y > T(0) ? dy : T(0);
}

}  // namespace gm::math

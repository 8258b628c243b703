// Fused bias + ReLU with kernels/common/bias_relu_math.h: one contiguous run of positions per
// (image, channel), so the inner loop is one formula with a constant bias and vectorises.
#include "kernels/common/bias_relu_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
constexpr int64_t kParallelThreshold = 16384;
}

void CpuBackend::bias_relu_forward(const Tensor& x, const Tensor& bias, Tensor& y) {
  const int64_t C = bias.numel(), rows = x.size(0) * C;
  const int64_t S = rows > 0 ? x.numel() / rows : 0;
  dispatch_floating(x.dtype(), "bias_relu_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(x.raw());
    const T* b = static_cast<const T*>(bias.raw());
    T* out = static_cast<T*>(y.raw());
#pragma omp parallel for if (x.numel() > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const T br = b[r % C];
      for (int64_t s = r * S; s < (r + 1) * S; ++s)
        out[s] = math::bias_relu(in[s], br);
    }
  });
}

void CpuBackend::bias_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  dispatch_floating(y.dtype(), "bias_relu_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* out = static_cast<const T*>(y.raw());
    const T* g = static_cast<const T*>(dy.raw());
    T* d = static_cast<T*>(dx.raw());
    const int64_t n = y.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
      d[i] = math::bias_relu_grad(out[i], g[i]);
  });
}

}  // namespace gm

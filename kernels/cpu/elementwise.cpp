#include <omp.h>

#include "kernels/common/unary_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
constexpr int64_t kParallelThreshold = 32768;  // below this, threads cost more than they save
}

void CpuBackend::unary(UnaryOp op, const UnaryParams& p, const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "unary", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    T* ys = static_cast<T*>(y.raw());
    const int code = static_cast<int>(op);
    const T alpha = static_cast<T>(p.alpha), scale = static_cast<T>(p.scale),
            shift = static_cast<T>(p.shift);
    const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
      ys[i] = math::unary_forward(code, xs[i], alpha, scale, shift);
  });
}

void CpuBackend::unary_backward(UnaryOp op, const UnaryParams& p, const Tensor& x, const Tensor& y,
                                const Tensor& dy, Tensor& dx) {
  dispatch_floating(x.dtype(), "unary_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    const T* ys = static_cast<const T*>(y.raw());
    const T* dys = static_cast<const T*>(dy.raw());
    T* dxs = static_cast<T*>(dx.raw());
    const int code = static_cast<int>(op);
    const T alpha = static_cast<T>(p.alpha), scale = static_cast<T>(p.scale);
    const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
      dxs[i] = math::unary_backward(code, xs[i], ys[i], dys[i], alpha, scale);
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch_floating(y.dtype(), "binary", [&](auto zero) {
    using T = decltype(zero);
    const T* as = static_cast<const T*>(a.raw());
    const T* bs = static_cast<const T*>(b.raw());
    T* ys = static_cast<T*>(y.raw());
    const int code = static_cast<int>(op);
    const int64_t n = y.numel();
    if (a.shape() == y.shape() && b.shape() == y.shape()) {
#pragma omp parallel for if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i)
        ys[i] = math::binary_forward(code, as[i], bs[i]);
      return;
    }
    // Broadcast: element strides with 0 along broadcast dims, walked a row (last dim) at a time.
    const int nd = y.ndim();
    if (nd == 0) {
      ys[0] = math::binary_forward(code, as[0], bs[0]);
      return;
    }
    std::vector<int64_t> sa(static_cast<size_t>(nd)), sb(static_cast<size_t>(nd));
    int64_t stride_a = 1, stride_b = 1;
    for (int i = nd - 1; i >= 0; --i) {
      const size_t k = static_cast<size_t>(i);
      sa[k] = a.shape()[k] == 1 ? 0 : stride_a;
      sb[k] = b.shape()[k] == 1 ? 0 : stride_b;
      stride_a *= a.shape()[k];
      stride_b *= b.shape()[k];
    }
    const int64_t row_len = y.shape().back();
    const int64_t rows = n / std::max<int64_t>(row_len, 1);
    const int64_t la = sa.back(), lb = sb.back();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int i = nd - 2; i >= 0; --i) {
        const size_t k = static_cast<size_t>(i);
        const int64_t idx = rem % y.shape()[k];
        rem /= y.shape()[k];
        oa += idx * sa[k];
        ob += idx * sb[k];
      }
      T* out = ys + r * row_len;
      for (int64_t j = 0; j < row_len; ++j)
        out[j] = math::binary_forward(code, as[oa + j * la], bs[ob + j * lb]);
    }
  });
}

void CpuBackend::sum_axis(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) {
  dispatch_floating(x.dtype(), "sum_axis", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    T* ys = static_cast<T*>(y.raw());
    // Accumulate in double: sums over a whole image or batch lose digits in float.
#pragma omp parallel for collapse(2) if (outer * n * inner > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0.0;
        const T* col = xs + o * n * inner + i;
        for (int64_t k = 0; k < n; ++k)
          acc += static_cast<double>(col[k * inner]);
        ys[o * inner + i] = static_cast<T>(acc);
      }
    }
  });
}

void CpuBackend::axpy(double alpha, const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "axpy", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    T* ys = static_cast<T*>(y.raw());
    const T a = static_cast<T>(alpha);
    const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i)
      ys[i] += a * xs[i];
  });
}

}  // namespace gm

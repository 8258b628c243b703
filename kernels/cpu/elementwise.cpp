// Elementwise kernels on the CPU: unary, binary (with broadcasting), sums along an axis, axpy.
//
// Two things make these loops fast, and both keep them exact (the same formula per element as
// kernels/common/unary_math.h, evaluated in the same order):
// - the op is chosen once, outside the loop (`with_op` turns the runtime code into a
//   compile-time constant), so each loop body is one formula the compiler can vectorise;
// - a broadcast is first reduced to as few dimensions as possible: neighbouring dimensions
//   that both operands treat alike merge, so a bias [1, C, 1, 1] added to [N, C, H, W] becomes
//   rows of H*W contiguous elements plus one bias value, not rows of W with index arithmetic.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/common/unary_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
constexpr int64_t kParallelThreshold = 32768;  // below this, threads cost more than they save

// Calls fn(std::integral_constant<Op, op>) for a runtime op, one of the Count ops of its enum.
template <typename Op, int Count, typename Fn, int Code = 0>
void with_op(Op op, Fn&& fn) {
  if constexpr (Code < Count) {
    if (op == static_cast<Op>(Code)) {
      fn(std::integral_constant<Op, static_cast<Op>(Code)>{});
      return;
    }
    with_op<Op, Count, Fn, Code + 1>(op, std::forward<Fn>(fn));
  }
}

// One broadcast dimension after merging: its size and each operand's element stride (0 where
// the operand is broadcast along it).
struct BroadcastDim {
  int64_t size, stride_a, stride_b;
};

// The dimensions of y, innermost last, with size-1 dimensions dropped and neighbours merged
// wherever both operands step through them contiguously (or both stay put).
std::vector<BroadcastDim> merged_broadcast(const Shape& ys, const Shape& as, const Shape& bs) {
  std::vector<BroadcastDim> dims;  // built innermost first
  int64_t stride_a = 1, stride_b = 1;
  for (size_t k = ys.size(); k-- > 0;) {
    const int64_t size = ys[k];
    const bool a_moves = as[k] != 1, b_moves = bs[k] != 1;
    if (size != 1) {
      const BroadcastDim d{size, a_moves ? stride_a : 0, b_moves ? stride_b : 0};
      if (!dims.empty()) {
        BroadcastDim& inner = dims.back();
        const bool a_contiguous =
            d.stride_a == inner.stride_a * inner.size || (d.stride_a == 0 && inner.stride_a == 0);
        const bool b_contiguous =
            d.stride_b == inner.stride_b * inner.size || (d.stride_b == 0 && inner.stride_b == 0);
        if (a_contiguous && b_contiguous) {
          inner.size *= size;
          stride_a *= as[k];
          stride_b *= bs[k];
          continue;
        }
      }
      dims.push_back(d);
    }
    stride_a *= as[k];
    stride_b *= bs[k];
  }
  return {dims.rbegin(), dims.rend()};
}

// out[j] = op(a[j * la], b[j * lb]) for j < len. After merged_broadcast the innermost strides
// of contiguous tensors are 0 (broadcast) or 1, so each of the four cases is a plain loop with
// constant strides that the compiler vectorises.
template <BinaryOp Op, typename T>
void binary_row(const T* a, int64_t la, const T* b, int64_t lb, T* out, int64_t len) {
  auto run = [&](auto a_step, auto b_step) {
    for (int64_t j = 0; j < len; ++j)
      out[j] = math::binary_forward(Op, a[j * a_step], b[j * b_step]);
  };
  using One = std::integral_constant<int64_t, 1>;
  using Zero = std::integral_constant<int64_t, 0>;
  if (la != 0 && lb != 0)
    run(One{}, One{});
  else if (la != 0)
    run(One{}, Zero{});
  else if (lb != 0)
    run(Zero{}, One{});
  else
    run(Zero{}, Zero{});
}
}  // namespace

void CpuBackend::unary(UnaryOp op, const UnaryParams& p, const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "unary", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    T* ys = static_cast<T*>(y.raw());
    const T alpha = static_cast<T>(p.alpha), scale = static_cast<T>(p.scale),
            shift = static_cast<T>(p.shift);
    const int64_t n = x.numel();
    with_op<UnaryOp, kUnaryOpCount>(op, [&](auto code) {
#pragma omp parallel for if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i)
        ys[i] = math::unary_forward(code(), xs[i], alpha, scale, shift);
    });
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
    const T alpha = static_cast<T>(p.alpha), scale = static_cast<T>(p.scale);
    const int64_t n = x.numel();
    with_op<UnaryOp, kUnaryOpCount>(op, [&](auto code) {
#pragma omp parallel for if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i)
        dxs[i] = math::unary_backward(code(), xs[i], ys[i], dys[i], alpha, scale);
    });
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch_floating(y.dtype(), "binary", [&](auto zero) {
    using T = decltype(zero);
    const T* as = static_cast<const T*>(a.raw());
    const T* bs = static_cast<const T*>(b.raw());
    T* ys = static_cast<T*>(y.raw());
    const int64_t n = y.numel();
    if (n == 0) return;
    const std::vector<BroadcastDim> dims = merged_broadcast(y.shape(), a.shape(), b.shape());
    with_op<BinaryOp, kBinaryOpCount>(op, [&](auto code) {
      if (dims.empty()) {  // a single element
        ys[0] = math::binary_forward(code(), as[0], bs[0]);
        return;
      }
      const BroadcastDim& row = dims.back();
      const int64_t rows = n / row.size;
      // Few long rows (plain elementwise) split each row across threads; many rows split rows.
      if (rows == 1) {
        const int64_t chunk = 8192;
#pragma omp parallel for if (n > kParallelThreshold)
        for (int64_t j0 = 0; j0 < n; j0 += chunk)
          binary_row<decltype(code)::value>(as + j0 * row.stride_a, row.stride_a,
                                            bs + j0 * row.stride_b, row.stride_b, ys + j0,
                                            std::min(chunk, n - j0));
        return;
      }
#pragma omp parallel for if (n > kParallelThreshold)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t rem = r, oa = 0, ob = 0;
        for (size_t k = dims.size() - 1; k-- > 0;) {
          const int64_t idx = rem % dims[k].size;
          rem /= dims[k].size;
          oa += idx * dims[k].stride_a;
          ob += idx * dims[k].stride_b;
        }
        binary_row<decltype(code)::value>(as + oa, row.stride_a, bs + ob, row.stride_b,
                                          ys + r * row.size, row.size);
      }
    });
  });
}

void CpuBackend::sum_axis(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) {
  dispatch_floating(x.dtype(), "sum_axis", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    T* ys = static_cast<T*>(y.raw());
    // Accumulate in double: sums over a whole image or batch lose digits in float. Each output
    // adds its n terms in order k = 0, 1, ...; a block of neighbouring outputs is summed
    // together so the inner loop runs over contiguous memory.
    constexpr int64_t kBlock = 256;
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for collapse(2) if (outer * n * inner > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t i0 = blk * kBlock, len = std::min(kBlock, inner - i0);
        double acc[kBlock];
        std::fill(acc, acc + len, 0.0);
        const T* src = xs + o * n * inner + i0;
        for (int64_t k = 0; k < n; ++k)
          for (int64_t i = 0; i < len; ++i)
            acc[i] += static_cast<double>(src[k * inner + i]);
        for (int64_t i = 0; i < len; ++i)
          ys[o * inner + i0 + i] = static_cast<T>(acc[i]);
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

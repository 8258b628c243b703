// Matrix products through the backend's GEMM.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

// C = op(A) op(B) for 2-D tensors, not recorded.
Tensor gemm2d(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b) {
  Gemm g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.m = trans_a ? a.size(1) : a.size(0);
  g.k = trans_a ? a.size(0) : a.size(1);
  g.n = trans_b ? b.size(0) : b.size(1);
  Tensor c = Tensor::empty({g.m, g.n}, a.dtype(), a.device());
  if (g.k == 0) {
    a.backend().fill(c, 0.0);
  } else if (c.numel() > 0) {
    a.backend().gemm(g, a, b, c);
  }
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_floating("matmul", a);
  check_same_device("matmul", a, b);
  check_same_dtype("matmul", a, b);
  check_ndim("matmul", "a", a, 2);
  check_ndim("matmul", "b", b, 2);
  if (a.size(1) != b.size(0))
    throw ShapeError(
        fmt::format("matmul: inner sizes differ: {} x {}", a.describe(), b.describe()));
  Tensor c = gemm2d(a.detach(), false, b.detach(), false);
  record("matmul", {a, b}, {&c}, [a, b](const std::vector<Tensor>& g) {
    // dA = dC B^T, dB = A^T dC
    Tensor da = a.requires_grad() ? gemm2d(g[0], false, b.detach(), true) : Tensor();
    Tensor db = b.requires_grad() ? gemm2d(a.detach(), true, g[0], false) : Tensor();
    return std::vector<Tensor>{da, db};
  });
  return c;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_floating("linear", x);
  check_same_device("linear", x, weight);
  check_same_dtype("linear", x, weight);
  check_ndim("linear", "x", x, 2);
  check_ndim("linear", "weight", weight, 2);
  if (x.size(1) != weight.size(1))
    throw ShapeError(fmt::format("linear: input {} has {} features, weight {} expects {}",
                                 x.describe(), x.size(1), weight.describe(), weight.size(1)));
  Tensor y = gemm2d(x.detach(), false, weight.detach(), true);  // x W^T
  record("linear", {x, weight}, {&y}, [x, weight](const std::vector<Tensor>& g) {
    Tensor dx = x.requires_grad() ? gemm2d(g[0], false, weight.detach(), false) : Tensor();
    Tensor dw = weight.requires_grad() ? gemm2d(g[0], true, x.detach(), false) : Tensor();
    return std::vector<Tensor>{dx, dw};
  });
  if (bias.defined()) {
    check_shape("linear", "bias", bias, {weight.size(0)});
    y = add(y, bias);
  }
  return y;
}

}  // namespace gm

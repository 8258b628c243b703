// Elementwise ops: forward and local backward side by side.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

Tensor unary_op(const char* name, UnaryOp op, const Tensor& x, UnaryParams p = {}) {
  check_floating(name, x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() > 0) x.backend().unary(op, p, x, y);
  Tensor y_saved = y.detach();
  record(name, {x}, {&y}, [op, p, x, y_saved](const std::vector<Tensor>& g) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (dx.numel() > 0) x.backend().unary_backward(op, p, x.detach(), y_saved, g[0], dx);
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, const Shape& shape) {
  Tensor y = Tensor::empty(shape, a.dtype(), a.device());
  if (y.numel() == 0) return y;
  // Backends see operands of y's rank (leading 1s added), as their contract says.
  auto lift = [&](const Tensor& t) {
    if (t.ndim() == static_cast<int>(shape.size())) return t;
    Shape s(shape.size() - t.shape().size(), 1);
    s.insert(s.end(), t.shape().begin(), t.shape().end());
    return reshape(t.detach(), s);
  };
  a.backend().binary(op, lift(a), lift(b), y);
  return y;
}

Tensor binary_op(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_floating(name, a);
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  const Shape shape = broadcast_shape(name, a.shape(), b.shape());
  Tensor y = binary_raw(op, a, b, shape);
  record(name, {a, b}, {&y}, [op, a, b](const std::vector<Tensor>& g) {
    const Tensor& dy = g[0];
    Tensor da, db;
    switch (op) {
      case BinaryOp::add:
        da = dy;
        db = dy;
        break;
      case BinaryOp::sub:
        da = dy;
        db = neg(dy);
        break;
      case BinaryOp::mul:
        da = a.requires_grad() ? mul(dy, b.detach()) : Tensor();
        db = b.requires_grad() ? mul(dy, a.detach()) : Tensor();
        break;
      case BinaryOp::div:  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        da = a.requires_grad() ? div(dy, b.detach()) : Tensor();
        db = b.requires_grad() ? neg(div(mul(dy, a.detach()), square(b.detach()))) : Tensor();
        break;
    }
    return std::vector<Tensor>{a.requires_grad() ? sum_to_shape(da, a.shape()) : Tensor(),
                               b.requires_grad() ? sum_to_shape(db, b.shape()) : Tensor()};
  });
  return y;
}

}  // namespace

Shape broadcast_shape(std::string_view op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})",
                                   op, shape_str(a), shape_str(b), i, da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  // Sum away the extra leading dims, then every dim where the target has size 1.
  const int lead = g.ndim() - static_cast<int>(shape.size());
  std::vector<int> dims;
  for (int i = 0; i < lead; ++i)
    dims.push_back(i);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && g.shape()[i + static_cast<size_t>(lead)] != 1)
      dims.push_back(static_cast<int>(i) + lead);
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return reshape(s, shape);
}

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op("add", BinaryOp::add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op("sub", BinaryOp::sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op("mul", BinaryOp::mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op("div", BinaryOp::div, a, b);
}

Tensor add_scalar(const Tensor& x, double s) {
  return unary_op("add_scalar", UnaryOp::affine, x, {.scale = 1.0, .shift = s});
}
Tensor mul_scalar(const Tensor& x, double s) {
  return unary_op("mul_scalar", UnaryOp::affine, x, {.scale = s, .shift = 0.0});
}
Tensor neg(const Tensor& x) {
  return unary_op("neg", UnaryOp::neg, x);
}
Tensor exp(const Tensor& x) {
  return unary_op("exp", UnaryOp::exp, x);
}
Tensor log(const Tensor& x) {
  return unary_op("log", UnaryOp::log, x);
}
Tensor tanh(const Tensor& x) {
  return unary_op("tanh", UnaryOp::tanh, x);
}
Tensor sigmoid(const Tensor& x) {
  return unary_op("sigmoid", UnaryOp::sigmoid, x);
}
Tensor relu(const Tensor& x) {
  return unary_op("relu", UnaryOp::relu, x);
}
Tensor elu(const Tensor& x, double alpha) {
  return unary_op("elu", UnaryOp::elu, x, {.alpha = alpha});
}
Tensor softplus(const Tensor& x) {
  return unary_op("softplus", UnaryOp::softplus, x);
}
Tensor square(const Tensor& x) {
  return unary_op("square", UnaryOp::square, x);
}
Tensor sqrt(const Tensor& x) {
  return unary_op("sqrt", UnaryOp::sqrt, x);
}
Tensor abs(const Tensor& x) {
  return unary_op("abs", UnaryOp::abs, x);
}

}  // namespace gm

// Elementwise ops: each case is an op, input shapes and ranges, and a scalar oracle.
#include "support/op_catalogue.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

// A unary case: oracle applies `f` to every element. Shapes are odd on purpose.
OpCase unary_case(std::string name, std::function<Tensor(const Tensor&)> op,
                  std::function<double(double)> f, double low = -2.0, double high = 2.0) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = {{3, 5, 7}};
  c.op = [op](const std::vector<Tensor>& x) { return op(x[0]); };
  c.reference = [f](const std::vector<HostValues>& x) {
    HostValues y(x[0].size());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = f(x[0][i]);
    return y;
  };
  c.low = low;
  c.high = high;
  return c;
}

// A binary case with numpy broadcasting; the oracle indexes with broadcast strides.
OpCase binary_case(std::string name, std::function<Tensor(const Tensor&, const Tensor&)> op,
                   std::function<double(double, double)> f, Shape a, Shape b, double low = -2.0,
                   double high = 2.0) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = {a, b};
  c.op = [op](const std::vector<Tensor>& x) { return op(x[0], x[1]); };
  c.reference = [f, a, b](const std::vector<HostValues>& x) {
    const Shape out = broadcast_shape("oracle", a, b);
    const size_t nd = out.size();
    auto padded = [&](const Shape& s) {
      Shape p(nd - s.size(), 1);
      p.insert(p.end(), s.begin(), s.end());
      return p;
    };
    const Shape pa = padded(a), pb = padded(b);
    HostValues y(static_cast<size_t>(shape_numel(out)));
    for (size_t flat = 0; flat < y.size(); ++flat) {
      size_t rem = flat, ia = 0, ib = 0, sa = 1, sb = 1;
      for (size_t d = nd; d-- > 0;) {
        const size_t idx = rem % static_cast<size_t>(out[d]);
        rem /= static_cast<size_t>(out[d]);
        if (pa[d] != 1) ia += idx * sa;
        if (pb[d] != 1) ib += idx * sb;
        sa *= static_cast<size_t>(pa[d]);
        sb *= static_cast<size_t>(pb[d]);
      }
      y[flat] = f(x[0][ia], x[1][ib]);
    }
    return y;
  };
  c.low = low;
  c.high = high;
  return c;
}

double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// "relu+" and "add same" are cases of relu and add: the op is the name's first word without
// the sign that tells which side of a kink the inputs lie.
std::string op_of(const std::string& name) {
  std::string op = name.substr(0, name.find(' '));
  if (op.back() == '+' || op.back() == '-') op.pop_back();
  return op;
}

// relu(x + bias) per channel of x [N, C, S...]. A finite difference across the kink at 0 is
// meaningless, so the op adds a constant +-0.6 (alternating along the positions) to inputs in
// [-0.25, 0.25] and biases in [-0.25, 0.25]: every pre-activation lies 0.1 or more from 0, on
// both sides.
OpCase bias_relu_case(const Shape& x_shape) {
  const int64_t C = x_shape[1], S = shape_numel(x_shape) / (x_shape[0] * C);
  HostValues offsets(static_cast<size_t>(shape_numel(x_shape)));
  for (size_t i = 0; i < offsets.size(); ++i)
    offsets[i] = i % 2 == 0 ? 0.6 : -0.6;
  OpCase c;
  c.name = fmt::format("bias_relu {}", shape_str(x_shape));
  c.shapes = {x_shape, {C}};
  c.low = -0.25;
  c.high = 0.25;
  c.op = [offsets, x_shape](const std::vector<Tensor>& x) {
    const Tensor shifted =
        x[0] + Tensor::from_vector(offsets, x_shape, x[0].dtype(), x[0].device());
    return bias_relu(shifted, x[1]);
  };
  c.reference = [offsets, C, S](const std::vector<HostValues>& x) {
    HostValues y(x[0].size());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = std::max(
          x[0][i] + offsets[i] + x[1][(i / static_cast<size_t>(S)) % static_cast<size_t>(C)], 0.0);
    return y;
  };
  return c;  // two roundings (the offset, the bias) of values below 1.1: default tolerances
}

}  // namespace

void add_elementwise_cases(std::vector<OpCase>& to) {
  {
    const std::vector<OpCase> cases = {
        unary_case(
            "neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }),
        unary_case(
            "exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }),
        unary_case(
            "log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); },
            0.2, 3.0),
        unary_case(
            "tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }),
        unary_case(
            "sigmoid", [](const Tensor& x) { return sigmoid(x); }, sigmoid_ref),
        // ReLU, ELU and abs have a kink at 0: inputs kept in [0.05, 2] and [-2, -0.05] by
        // drawing from a range that excludes it (two cases each side).
        unary_case(
            "relu+", [](const Tensor& x) { return relu(x); },
            [](double x) { return x > 0 ? x : 0.0; }, 0.05, 2.0),
        unary_case(
            "relu-", [](const Tensor& x) { return relu(x); },
            [](double x) { return x > 0 ? x : 0.0; }, -2.0, -0.05),
        unary_case(
            "elu+", [](const Tensor& x) { return elu(x, 0.7); },
            [](double x) { return x > 0 ? x : 0.7 * std::expm1(x); }, 0.05, 2.0),
        unary_case(
            "elu-", [](const Tensor& x) { return elu(x, 0.7); },
            [](double x) { return x > 0 ? x : 0.7 * std::expm1(x); }, -2.0, -0.05),
        unary_case(
            "softplus", [](const Tensor& x) { return softplus(x); },
            [](double x) { return std::log1p(std::exp(x)); }, -5.0, 5.0),
        unary_case(
            "square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }),
        unary_case(
            "sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); },
            0.2, 3.0),
        unary_case(
            "abs+", [](const Tensor& x) { return abs(x); }, [](double x) { return std::abs(x); },
            0.05, 2.0),
        unary_case(
            "abs-", [](const Tensor& x) { return abs(x); }, [](double x) { return std::abs(x); },
            -2.0, -0.05),
        unary_case(
            "add_scalar", [](const Tensor& x) { return x + 1.5; },
            [](double x) { return x + 1.5; }),
        unary_case(
            "mul_scalar", [](const Tensor& x) { return x * -0.75; },
            [](double x) { return x * -0.75; }),
    };
    for (const OpCase& c : cases)
      add_cases(to, op_of(c.name), {"unary", "unary_backward"}, {c});
  }
  {
    auto add_f = [](double a, double b) { return a + b; };
    auto sub_f = [](double a, double b) { return a - b; };
    auto mul_f = [](double a, double b) { return a * b; };
    auto div_f = [](double a, double b) { return a / b; };
    const std::vector<OpCase> cases = {
        binary_case("add same", [](auto& a, auto& b) { return a + b; }, add_f, {3, 5}, {3, 5}),
        // per-channel bias, as the conv layers use it
        binary_case("add bias", [](auto& a, auto& b) { return a + b; }, add_f, {2, 3, 5, 7},
                    {3, 1, 1}),
        binary_case("sub rows", [](auto& a, auto& b) { return a - b; }, sub_f, {5, 1}, {1, 7}),
        binary_case("mul scalar tensor", [](auto& a, auto& b) { return a * b; }, mul_f, {3, 5, 7},
                    {}),
        binary_case("mul broadcast", [](auto& a, auto& b) { return a * b; }, mul_f, {3, 1, 7},
                    {5, 1}),
        // divisor kept away from 0
        binary_case(
            "div", [](auto& a, auto& b) { return a / b; }, div_f, {3, 5}, {3, 5}, 0.5, 2.0),
        binary_case(
            "div broadcast", [](auto& a, auto& b) { return a / b; }, div_f, {1, 5}, {3, 1}, 0.5,
            2.0),
    };
    // Gradients of broadcast operands are summed back to their shape (sum_axis).
    for (const OpCase& c : cases)
      add_cases(to, op_of(c.name), {"binary", "sum_axis"}, {c});
  }
  // The bias gradient sums dx over images and positions (sum_axis).
  add_cases(to, "bias_relu", {"bias_relu_forward", "bias_relu_backward", "sum_axis"},
            {bias_relu_case({2, 5, 3, 7}), bias_relu_case({3, 4, 5})});
}

}  // namespace gm::catalogue

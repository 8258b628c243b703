#include "tools/gradcheck_ops.h"

#include <fmt/ranges.h>

#include "engine/ops.h"
#include "engine/random.h"

namespace gm::tools {

namespace {

using Inputs = const std::vector<Tensor>&;

OpGradcheck unary(std::string name, Tensor (*op)(const Tensor&), double low = -2, double high = 2) {
  return {name, {"x"}, {{3, 5}}, low, high, [op](Inputs x) { return op(x[0]); }};
}

OpGradcheck binary(std::string name, Tensor (*op)(const Tensor&, const Tensor&), double low = -2,
                   double high = 2) {
  // Broadcasting on purpose: b's gradient must be summed back to its shape.
  return {name, {"a", "b"}, {{3, 5}, {1, 5}}, low, high, [op](Inputs x) { return op(x[0], x[1]); }};
}

// Fixed integer targets in [0, classes) of `shape`, from a fixed seed.
Tensor targets(const Shape& shape, int64_t classes, Device device) {
  Generator gen(99);
  std::vector<double> u = Tensor::uniform(shape, 0.0, 1.0, gen, DType::f64).to_vector<double>();
  std::vector<int32_t> t(u.size());
  for (size_t i = 0; i < u.size(); ++i)
    t[i] =
        static_cast<int32_t>(u[i] * static_cast<double>(classes)) % static_cast<int32_t>(classes);
  return Tensor::from_vector(t, shape, DType::i32, device);
}

std::vector<OpGradcheck> make_table() {
  std::vector<OpGradcheck> ops = {
      binary("add", add),
      binary("sub", sub),
      binary("mul", mul),
      binary("div", div, 0.5, 2.0),
      unary("neg", neg),
      unary("exp", exp),
      unary("log", log, 0.5, 2.0),
      unary("tanh", tanh),
      unary("sigmoid", sigmoid),
      unary("softplus", softplus),
      unary("square", square),
      unary("sqrt", sqrt, 0.5, 2.0),
      {"elu", {"x"}, {{3, 5}}, -2, 2, [](Inputs x) { return elu(x[0]); }},
      {"sum", {"x"}, {{3, 4, 5}}, -1, 1, [](Inputs x) { return sum(x[0], {1}); }},
      {"mean",
       {"x"},
       {{3, 4, 5}},
       -1,
       1,
       [](Inputs x) {
         return mean(x[0], {0, 2});
       }},
      {"matmul", {"a", "b"}, {{3, 4}, {4, 5}}, -1, 1, [](Inputs x) { return matmul(x[0], x[1]); }},
      {"linear",
       {"x", "weight", "bias"},
       {{3, 4}, {5, 4}, {5}},
       -1,
       1,
       [](Inputs x) { return linear(x[0], x[1], x[2]); }},
      {"conv2d",
       {"x", "weight", "bias"},
       {{2, 3, 5, 5}, {4, 3, 3, 3}, {4}},
       -1,
       1,
       [](Inputs x) { return conv2d(x[0], x[1], x[2], 1, 1); }},
      {"masked_conv2d_a",
       {"x", "weight", "bias"},
       {{1, 3, 5, 5}, {3, 3, 3, 3}, {3}},
       -1,
       1,
       [](Inputs x) { return masked_conv2d(x[0], x[1], x[2], MaskType::A, 3); }},
      {"masked_conv2d_b",
       {"x", "weight", "bias"},
       {{1, 2, 5, 5}, {3, 2, 3, 3}, {3}},
       -1,
       1,
       [](Inputs x) { return masked_conv2d(x[0], x[1], x[2], MaskType::B, 1); }},
      {"conv_transpose2d",
       {"x", "weight", "bias"},
       {{1, 2, 3, 3}, {2, 3, 3, 3}, {3}},
       -1,
       1,
       [](Inputs x) { return conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }},
      {"softmax_cross_entropy",
       {"logits"},
       {{2, 256, 2}},
       -2,
       2,
       [](Inputs x) {
         return softmax_cross_entropy(x[0], targets({2, 2}, 256, x[0].device()));
       }},
      {"lstm_cell",
       {"gates", "c_prev"},
       {{2, 8, 3}, {2, 2, 3}},
       -2,
       2,
       [](Inputs x) {
         LstmState s = lstm_cell(x[0], x[1]);
         return s.h + s.c * 0.5;  // both outputs reach the checked scalar products
       }},
      {"gaussian_sample",
       {"mu", "logvar"},
       {{3, 4}, {3, 4}},
       -1,
       1,
       [](Inputs x) {
         Generator gen(7);  // the same noise at every evaluation
         return gaussian_sample(x[0], x[1], gen);
       }},
      {"kl_std_normal",
       {"mu", "logvar"},
       {{3, 4}, {3, 4}},
       -1,
       1,
       [](Inputs x) { return kl_std_normal(x[0], x[1]); }},
      {"bernoulli_nll",
       {"logits"},
       {{3, 5}},
       -3,
       3,
       [](Inputs x) {
         return bernoulli_nll(x[0], targets({3, 5}, 2, x[0].device()).to(DType::f64));
       }},
      {"discretized_logistic_nll",
       {"mean", "log_scale"},
       {{2, 6}, {2, 6}},
       -1,
       0,
       [](Inputs x) {
         // Pixels on the 256-level [-1, 1] grid, including both end bins.
         Tensor levels = targets({2, 6}, 256, Device::cpu()).to(DType::f64);
         Tensor pixels = levels * (2.0 / 255.0) - 1.0;
         return discretized_logistic_nll(pixels.to(x[0].device()), x[0], x[1]);
       }},
  };
  return ops;
}

}  // namespace

const std::vector<OpGradcheck>& op_gradchecks() {
  static const std::vector<OpGradcheck> table = make_table();
  return table;
}

const OpGradcheck& find_op_gradcheck(const std::string& name) {
  std::vector<std::string> known;
  for (const OpGradcheck& op : op_gradchecks()) {
    if (op.name == name) return op;
    known.push_back(op.name);
  }
  fail("unknown op '{}': known ops are {}", name, fmt::join(known, ", "));
}

}  // namespace gm::tools

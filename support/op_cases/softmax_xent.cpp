// Softmax cross-entropy over the values dim: a long-double oracle per position.
#include "support/op_cases/oracles.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/ops.h"

namespace gm::catalogue {

XentLayout xent_layout(const Shape& logits) {
  XentLayout l{logits[0], logits[1], 1, logits};
  for (size_t d = 2; d < logits.size(); ++d)
    l.s *= logits[d];
  l.positions.erase(l.positions.begin() + 1);
  return l;
}

std::vector<int32_t> xent_targets(const XentLayout& l) {
  std::vector<int32_t> t(static_cast<size_t>(l.n * l.s));
  for (size_t i = 0; i < t.size(); ++i)
    t[i] = static_cast<int32_t>((i * 97 + 13) % static_cast<size_t>(l.v));
  t.front() = 0;
  t.back() = static_cast<int32_t>(l.v - 1);
  return t;
}

HostValues xent_reference(const HostValues& x, const std::vector<int32_t>& t, const XentLayout& l) {
  HostValues nll(static_cast<size_t>(l.n), 0.0);
  for (int64_t n = 0; n < l.n; ++n) {
    long double total = 0.0L;
    for (int64_t s = 0; s < l.s; ++s) {
      auto at = [&](int64_t v) { return static_cast<long double>(x[(n * l.v + v) * l.s + s]); };
      long double m = at(0);
      for (int64_t v = 1; v < l.v; ++v)
        m = std::max(m, at(v));
      long double sum = 0.0L;
      for (int64_t v = 0; v < l.v; ++v)
        sum += std::exp(at(v) - m);
      total += m + std::log(sum) - at(t[n * l.s + s]);
    }
    nll[n] = static_cast<double>(total);
  }
  return nll;
}

namespace {

OpCase xent_case(const Shape& logits_shape, DType target_dtype, double low, double high) {
  const XentLayout l = xent_layout(logits_shape);
  const std::vector<int32_t> targets = xent_targets(l);
  OpCase c;
  c.name = fmt::format("softmax_cross_entropy {} target {}", shape_str(logits_shape),
                       dtype_name(target_dtype));
  c.shapes = {logits_shape};
  c.low = low;
  c.high = high;
  c.op = [targets, l, target_dtype](const std::vector<Tensor>& x) {
    const Tensor t = Tensor::from_vector(targets, l.positions, target_dtype, x[0].device());
    return softmax_cross_entropy(x[0], t);
  };
  c.reference = [targets, l](const std::vector<HostValues>& x) {
    return xent_reference(x[0], targets, l);
  };
  // Each image's output depends only on its own logits, so one random projection of the [N]
  // outputs (non-zero weight per image) checks every logit's gradient exactly as the full
  // Jacobian would, at a third of the cost.
  c.grad.full_jacobian_max_outputs = 0;
  c.grad.projections = 1;
  return c;
}

}  // namespace

void add_softmax_xent_cases(std::vector<OpCase>& to) {
  add_cases(
      to, "softmax_cross_entropy",
      // With gradients the op runs the _stats entries (the forward keeps each position's
      // statistics for the backward); without, the plain forward.
      {"softmax_xent_forward", "softmax_xent_backward", "softmax_xent_forward_stats",
       "softmax_xent_backward_stats"},
      {
          xent_case({3, 256, 2, 3}, DType::u8, -3.0, 3.0),  // the pixel models' V, odd positions
          xent_case({2, 256}, DType::i32, -2.0, 2.0),       // no trailing positions: S = 1
          xent_case({3, 7, 5}, DType::i32, -4.0, 4.0),      // any V works
      });
}

}  // namespace gm::catalogue

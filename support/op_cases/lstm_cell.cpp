// The fused LSTM cell against a scalar oracle, for h, c and both.
#include "support/op_catalogue.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

enum class Output { h, c, both };

// gates [N, 4H, positions...], c_prev [N, H, positions...]; `state` gives [N, H, positions...].
OpCase lstm_case(Shape state, Output which) {
  Shape gates = state;
  gates[1] *= 4;
  const int64_t N = state[0], H = state[1];
  const int64_t S = shape_numel(state) / (N * H);
  OpCase c;
  c.name = fmt::format("lstm_cell {} output {}", shape_str(state),
                       which == Output::h   ? "h"
                       : which == Output::c ? "c"
                                            : "h,c");
  c.shapes = {gates, state};
  c.low = -2.5;  // pre-activations through the sigmoids' curved part and into saturation
  c.high = 2.5;
  c.op = [which](const std::vector<Tensor>& x) {
    const LstmState st = lstm_cell(x[0], x[1]);
    if (which == Output::h) return st.h;
    if (which == Output::c) return st.c;
    return concat({st.h, st.c}, 1);
  };
  c.reference = [which, N, H, S](const std::vector<HostValues>& x) {
    const HostValues& g = x[0];
    const HostValues& cp = x[1];
    HostValues h(cp.size()), cs(cp.size());
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < H; ++j) {
        for (int64_t s = 0; s < S; ++s) {
          auto gate = [&](int64_t k) {
            return g[static_cast<size_t>(((n * 4 + k) * H + j) * S + s)];
          };
          const size_t at = static_cast<size_t>((n * H + j) * S + s);
          const double i = sigmoid_ref(gate(0)), f = sigmoid_ref(gate(1)), o = sigmoid_ref(gate(2)),
                       gg = std::tanh(gate(3));
          cs[at] = f * cp[at] + i * gg;
          h[at] = o * std::tanh(cs[at]);
        }
      }
    }
    if (which == Output::h) return h;
    if (which == Output::c) return cs;
    HostValues both;  // concat along dim 1: per image, H channels of h then H of c
    const size_t block = static_cast<size_t>(H * S);
    for (size_t n = 0; n < static_cast<size_t>(N); ++n) {
      both.insert(both.end(), h.begin() + static_cast<long>(n * block),
                  h.begin() + static_cast<long>((n + 1) * block));
      both.insert(both.end(), cs.begin() + static_cast<long>(n * block),
                  cs.begin() + static_cast<long>((n + 1) * block));
    }
    return both;
  };
  // Full Jacobian: at most 90 outputs here, a fraction of a second.
  c.grad.full_jacobian_max_outputs = 90;
  return c;
}

}  // namespace

void add_lstm_cell_cases(std::vector<OpCase>& to) {
  // Only h, only c (the other output's gradient arrives undefined) and both together.
  add_cases(to, "lstm_cell", {"lstm_cell_forward", "lstm_cell_backward"},
            {
                lstm_case({3, 3, 5}, Output::both), lstm_case({3, 3, 5}, Output::h),
                lstm_case({3, 3, 5}, Output::c),
                lstm_case({2, 3, 1, 3}, Output::both),  // trailing positions as H x W
            });
}

}  // namespace gm::catalogue

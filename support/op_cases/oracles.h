#pragma once
// The oracles that the op catalogue's cases use and that tests reuse for checks that are not
// cases (a gradient formula, extreme inputs): declared here once.
#include <cmath>
#include <cstdint>
#include <vector>

#include "support/op_catalogue.h"

namespace gm::catalogue {

// Softmax cross-entropy over dim 1 of logits [N, V, S...].
struct XentLayout {
  int64_t n, v, s;
  Shape positions;  // logits' shape without dim 1
};
XentLayout xent_layout(const Shape& logits);
// Deterministic targets covering both ends of [0, V).
std::vector<int32_t> xent_targets(const XentLayout& l);
// Per position, log-sum-exp (with the maximum subtracted) minus the target's logit, in long
// double; summed per image.
HostValues xent_reference(const HostValues& x, const std::vector<int32_t>& t, const XentLayout& l);

// The logistic sigmoid in long double, on the side where exp cannot overflow.
inline long double sigmoid_ld(long double t) {
  return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
}

}  // namespace gm::catalogue

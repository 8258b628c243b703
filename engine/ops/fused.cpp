// PLACEHOLDER until the fused ops land.
#include "engine/ops.h"

namespace gm {

Tensor softmax_cross_entropy(const Tensor&, const Tensor&) {
  fail("softmax_cross_entropy: pending");
}
LstmState lstm_cell(const Tensor&, const Tensor&) {
  fail("lstm_cell: pending");
}
Tensor gaussian_sample(const Tensor&, const Tensor&, Generator&) {
  fail("gaussian_sample: pending");
}
Tensor kl_std_normal(const Tensor&, const Tensor&) {
  fail("kl_std_normal: pending");
}
Tensor bernoulli_nll(const Tensor&, const Tensor&) {
  fail("bernoulli_nll: pending");
}
Tensor discretized_logistic_nll(const Tensor&, const Tensor&, const Tensor&) {
  fail("discretized_logistic_nll: pending");
}

}  // namespace gm

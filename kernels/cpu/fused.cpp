// PLACEHOLDER until the fused model kernels land: every function throws.
#include "kernels/cpu/cpu_backend.h"

namespace gm {

void CpuBackend::softmax_xent_forward(const Tensor&, const Tensor&, Tensor&) {
  fail("cpu softmax_xent_forward: pending");
}
void CpuBackend::softmax_xent_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  fail("cpu softmax_xent_backward: pending");
}
void CpuBackend::sample_categorical(const Tensor&, double, uint64_t, uint64_t, Tensor&) {
  fail("cpu sample_categorical: pending");
}
void CpuBackend::lstm_cell_forward(const Tensor&, const Tensor&, Tensor&, Tensor&) {
  fail("cpu lstm_cell_forward: pending");
}
void CpuBackend::lstm_cell_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                    const Tensor&, Tensor&, Tensor&) {
  fail("cpu lstm_cell_backward: pending");
}
void CpuBackend::gaussian_sample_forward(const Tensor&, const Tensor&, uint64_t, uint64_t, Tensor&,
                                         Tensor&) {
  fail("cpu gaussian_sample_forward: pending");
}
void CpuBackend::gaussian_sample_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&,
                                          Tensor&) {
  fail("cpu gaussian_sample_backward: pending");
}
void CpuBackend::kl_std_normal_forward(const Tensor&, const Tensor&, Tensor&) {
  fail("cpu kl_std_normal_forward: pending");
}
void CpuBackend::kl_std_normal_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&,
                                        Tensor&) {
  fail("cpu kl_std_normal_backward: pending");
}
void CpuBackend::bernoulli_nll_forward(const Tensor&, const Tensor&, Tensor&) {
  fail("cpu bernoulli_nll_forward: pending");
}
void CpuBackend::bernoulli_nll_backward(const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  fail("cpu bernoulli_nll_backward: pending");
}
void CpuBackend::discretized_logistic_nll_forward(const Tensor&, const Tensor&, const Tensor&,
                                                  Tensor&) {
  fail("cpu discretized_logistic_nll_forward: pending");
}
void CpuBackend::discretized_logistic_nll_backward(const Tensor&, const Tensor&, const Tensor&,
                                                   const Tensor&, Tensor&, Tensor&) {
  fail("cpu discretized_logistic_nll_backward: pending");
}

}  // namespace gm

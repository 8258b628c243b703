#pragma once
// Launchers of the fused model kernels and the optimizers (see launch.h for the conventions).
// Tensors are [N, S] or [N, V, S] as in engine/backend.h. Forward losses are per-image sums:
// they take a scratch buffer of N * row_chunks(e, S) doubles for their partial sums.
#include <cstdint>

#include "kernels/common/optim_math.h"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// Partial sums per image of a per-image reduction over S positions (one per block).
int64_t row_chunks(const Exec& e, int64_t S);

// ---- softmax_xent.cu (target: uint8_t or int32_t)
// The forward's partial sums per image: one per tile of 32 positions (its scratch holds
// N * xent_chunks(S) doubles, not row_chunks').
inline int64_t xent_chunks(int64_t S) {
  return (S + 31) / 32;
}
template <typename T, typename Target>
void softmax_xent_forward(const Exec& e, const T* logits, const Target* target, int64_t N,
                          int64_t V, int64_t S, double* partial, T* nll);
template <typename T, typename Target>
void softmax_xent_backward(const Exec& e, const T* logits, const Target* target, const T* dnll,
                           int64_t N, int64_t V, int64_t S, T* dlogits);
template <typename T>
void sample_categorical(const Exec& e, const T* logits, int64_t N, int64_t V, int64_t S,
                        double temperature, uint64_t seed, uint64_t offset, int32_t* out);

// ---- lstm_cell.cu: HS elements of state per image; dh or dc may be null (zero).
template <typename T>
void lstm_cell_forward(const Exec& e, const T* gates, const T* c_prev, int64_t N, int64_t HS, T* h,
                       T* c);
template <typename T>
void lstm_cell_backward(const Exec& e, const T* gates, const T* c_prev, const T* c, const T* dh,
                        const T* dc, int64_t N, int64_t HS, T* dgates, T* dc_prev);

// ---- bias_relu.cu: n elements of an [N, C, S] tensor, bias [C]
template <typename T>
void bias_relu_forward(const Exec& e, const T* x, const T* bias, int64_t n, int64_t C, int64_t S,
                       T* y);
template <typename T>
void bias_relu_backward(const Exec& e, const T* y, const T* dy, int64_t n, T* dx);

// ---- gaussian.cu
template <typename T>
void gaussian_sample_forward(const Exec& e, const T* mu, const T* logvar, int64_t n, uint64_t seed,
                             uint64_t offset, T* eps, T* z);
template <typename T>
void gaussian_sample_backward(const Exec& e, const T* logvar, const T* eps, const T* dz, int64_t n,
                              T* dmu, T* dlogvar);
template <typename T>
void kl_std_normal_forward(const Exec& e, const T* mu, const T* logvar, int64_t N, int64_t D,
                           double* partial, T* kl);
template <typename T>
void kl_std_normal_backward(const Exec& e, const T* mu, const T* logvar, const T* dkl, int64_t N,
                            int64_t D, T* dmu, T* dlogvar);

// ---- likelihoods.cu
template <typename T>
void bernoulli_nll_forward(const Exec& e, const T* logits, const T* target, int64_t N, int64_t S,
                           double* partial, T* nll);
template <typename T>
void bernoulli_nll_backward(const Exec& e, const T* logits, const T* target, const T* dnll,
                            int64_t N, int64_t S, T* dlogits);
template <typename T>
void discretized_logistic_nll_forward(const Exec& e, const T* x, const T* mean, const T* log_scale,
                                      int64_t N, int64_t S, double* partial, T* nll);
template <typename T>
void discretized_logistic_nll_backward(const Exec& e, const T* x, const T* mean, const T* log_scale,
                                       const T* dnll, int64_t N, int64_t S, T* dmean,
                                       T* dlog_scale);

// ---- optim.cu (AdamStep/SgdStep of kernels/common/op_types.h; formulas in
// kernels/common/optim_math.h)
template <typename T>
void adam_update(const Exec& e, const math::AdamConstants<T>& c, T* param, const T* grad, T* m,
                 T* v, int64_t n);
// momentum_buffer may be null (plain SGD).
template <typename T>
void sgd_update(const Exec& e, const SgdStep& a, T* param, const T* grad, T* momentum_buffer,
                int64_t n);

}  // namespace gm::GM_CUDA_NS

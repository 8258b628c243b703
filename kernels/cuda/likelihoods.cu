// Per-image likelihoods on [N, S] tensors with kernels/common/logistic_math.h: Bernoulli-logit
// NLL and the discretized logistic NLL. Forwards sum each image's terms with row_sums (in
// double, deterministic); backwards are one thread per element.
#include "kernels/common/logistic_math.h"
#include "kernels/cuda/row_sum.cuh"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
struct BernoulliTerm {
  const T* logits;
  const T* target;
  int64_t S;
  __device__ double operator()(int64_t n, int64_t s) const {
    return static_cast<double>(math::bernoulli_nll(logits[n * S + s], target[n * S + s]));
  }
};

template <typename T>
__global__ void bernoulli_backward_kernel(const T* logits, const T* target, const T* dnll,
                                          int64_t N, int64_t S, T* dlogits) {
  for (int64_t i = global_thread(); i < N * S; i += grid_threads())
    dlogits[i] = math::bernoulli_nll_grad(logits[i], target[i], dnll[i / S]);
}

template <typename T>
struct LogisticTerm {
  const T* x;
  const T* mean;
  const T* log_scale;
  int64_t S;
  __device__ double operator()(int64_t n, int64_t s) const {
    const int64_t i = n * S + s;
    return -static_cast<double>(math::discretized_logistic_logp(x[i], mean[i], log_scale[i]));
  }
};

template <typename T>
__global__ void logistic_backward_kernel(const T* x, const T* mean, const T* log_scale,
                                         const T* dnll, int64_t N, int64_t S, T* dmean,
                                         T* dlog_scale) {
  for (int64_t i = global_thread(); i < N * S; i += grid_threads()) {
    // nll = -log p, so the gradients are the negated derivatives of log p.
    const math::LogisticGrad<T> d =
        math::discretized_logistic_logp_grad(x[i], mean[i], log_scale[i]);
    const T g = dnll[i / S];
    dmean[i] = -g * d.dmean;
    dlog_scale[i] = -g * d.dlog_scale;
  }
}

}  // namespace

template <typename T>
void bernoulli_nll_forward(const Exec& e, const T* logits, const T* target, int64_t N, int64_t S,
                           double* partial, T* nll) {
  row_sums(e, BernoulliTerm<T>{logits, target, S}, N, S, partial, nll);
}

template <typename T>
void bernoulli_nll_backward(const Exec& e, const T* logits, const T* target, const T* dnll,
                            int64_t N, int64_t S, T* dlogits) {
  if (N * S == 0) return;
  const unsigned threads = kernel_threads<bernoulli_backward_kernel<T>>(N * S, e.block);
  GM_LAUNCH((bernoulli_backward_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
  (logits, target, dnll, N, S, dlogits);
}

template <typename T>
void discretized_logistic_nll_forward(const Exec& e, const T* x, const T* mean, const T* log_scale,
                                      int64_t N, int64_t S, double* partial, T* nll) {
  row_sums(e, LogisticTerm<T>{x, mean, log_scale, S}, N, S, partial, nll);
}

template <typename T>
void discretized_logistic_nll_backward(const Exec& e, const T* x, const T* mean, const T* log_scale,
                                       const T* dnll, int64_t N, int64_t S, T* dmean,
                                       T* dlog_scale) {
  if (N * S == 0) return;
  const unsigned threads = kernel_threads<logistic_backward_kernel<T>>(N * S, e.block);
  GM_LAUNCH((logistic_backward_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
  (x, mean, log_scale, dnll, N, S, dmean, dlog_scale);
}

#define GM_INSTANTIATE(T)                                                                       \
  template void bernoulli_nll_forward<T>(const Exec&, const T*, const T*, int64_t, int64_t,     \
                                         double*, T*);                                          \
  template void bernoulli_nll_backward<T>(const Exec&, const T*, const T*, const T*, int64_t,   \
                                          int64_t, T*);                                         \
  template void discretized_logistic_nll_forward<T>(const Exec&, const T*, const T*, const T*,  \
                                                    int64_t, int64_t, double*, T*);             \
  template void discretized_logistic_nll_backward<T>(const Exec&, const T*, const T*, const T*, \
                                                     const T*, int64_t, int64_t, T*, T*);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS

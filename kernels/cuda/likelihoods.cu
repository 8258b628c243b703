// Per-image likelihoods on [N, S] tensors with kernels/common/logistic_math.h: Bernoulli-logit
// NLL and the discretized logistic NLL. Forwards sum each image's terms with row_sums (in
// double, deterministic); backwards are one thread per element.
#include "kernels/common/logistic_math.h"
#include "kernels/cuda/launch_entries.h"
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

namespace launchers {

void bernoulli_nll_forward(const Exec& e, const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = nll.numel, S = logits.per_image();
  with_floating(logits.dtype, "bernoulli_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    row_sums(e, BernoulliTerm<T>{logits.data<T>(), target.data<T>(), S}, N, S, nll.data<T>());
  });
}

void bernoulli_nll_backward(const Exec& e, const Tensor& logits, const Tensor& target,
                            const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = dnll.numel, S = logits.per_image();
  if (N * S == 0) return;
  with_floating(logits.dtype, "bernoulli_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<bernoulli_backward_kernel<T>>(N * S, e.block);
    GM_LAUNCH((bernoulli_backward_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
    (logits.data<T>(), target.data<T>(), dnll.data<T>(), N, S, dlogits.data<T>());
  });
}

void discretized_logistic_nll_forward(const Exec& e, const Tensor& x, const Tensor& mean,
                                      const Tensor& log_scale, Tensor& nll) {
  const int64_t N = nll.numel, S = x.per_image();
  with_floating(x.dtype, "discretized_logistic_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    const LogisticTerm<T> term{x.data<T>(), mean.data<T>(), log_scale.data<T>(), S};
    row_sums(e, term, N, S, nll.data<T>());
  });
}

void discretized_logistic_nll_backward(const Exec& e, const Tensor& x, const Tensor& mean,
                                       const Tensor& log_scale, const Tensor& dnll, Tensor& dmean,
                                       Tensor& dlog_scale) {
  const int64_t N = dnll.numel, S = x.per_image();
  if (N * S == 0) return;
  with_floating(x.dtype, "discretized_logistic_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<logistic_backward_kernel<T>>(N * S, e.block);
    GM_LAUNCH((logistic_backward_kernel<T>), blocks_for(N * S, threads), threads, 0, e.stream)
    (x.data<T>(), mean.data<T>(), log_scale.data<T>(), dnll.data<T>(), N, S, dmean.data<T>(),
     dlog_scale.data<T>());
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS

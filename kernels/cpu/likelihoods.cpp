// Per-image likelihoods of the binarised and 8-bit models: Bernoulli-logit NLL and the
// discretized logistic NLL. Tensors are [N, S] (S = all positions of an image); the forward
// sums each image's S terms in double.
#include <vector>

#include "kernels/common/logistic_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {

constexpr int64_t kParallelThreshold = 16384;

int64_t per_image(const Tensor& t, int64_t N) {
  return N > 0 ? t.numel() / N : 0;
}

}  // namespace

void CpuBackend::bernoulli_nll_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(logits, N);
  dispatch_floating(logits.dtype(), "bernoulli_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* l = static_cast<const T*>(logits.raw());
    const T* t = static_cast<const T*>(target.raw());
    T* out = static_cast<T*>(nll.raw());
#pragma omp parallel for if (N * S > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      double total = 0.0;
      for (int64_t i = n * S; i < (n + 1) * S; ++i)
        total += static_cast<double>(math::bernoulli_nll(l[i], t[i]));
      out[n] = static_cast<T>(total);
    }
  });
}

void CpuBackend::bernoulli_nll_backward(const Tensor& logits, const Tensor& target,
                                        const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = dnll.numel(), S = per_image(logits, N);
  dispatch_floating(logits.dtype(), "bernoulli_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* l = static_cast<const T*>(logits.raw());
    const T* t = static_cast<const T*>(target.raw());
    const T* g = static_cast<const T*>(dnll.raw());
    T* dl = static_cast<T*>(dlogits.raw());
#pragma omp parallel for if (N * S > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = n * S; i < (n + 1) * S; ++i)
        dl[i] = math::bernoulli_nll_grad(l[i], t[i], g[n]);
  });
}

void CpuBackend::discretized_logistic_nll_forward(const Tensor& x, const Tensor& mean,
                                                  const Tensor& log_scale, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(x, N);
  dispatch_floating(x.dtype(), "discretized_logistic_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    const T* m = static_cast<const T*>(mean.raw());
    const T* ls = static_cast<const T*>(log_scale.raw());
    T* out = static_cast<T*>(nll.raw());
    // Per image: every pixel's log p first (a vector loop), then their sum in double, in order.
#pragma omp parallel if (N * S > kParallelThreshold)
    {
      std::vector<T> logp(static_cast<size_t>(S));
#pragma omp for
      for (int64_t n = 0; n < N; ++n) {
        const int64_t first = n * S;
        T* lp = logp.data();
        for (int64_t i = 0; i < S; ++i)
          lp[i] = math::discretized_logistic_logp(xs[first + i], m[first + i], ls[first + i]);
        double total = 0.0;
        for (int64_t i = 0; i < S; ++i)
          total -= static_cast<double>(lp[i]);
        out[n] = static_cast<T>(total);
      }
    }
  });
}

void CpuBackend::discretized_logistic_nll_backward(const Tensor& x, const Tensor& mean,
                                                   const Tensor& log_scale, const Tensor& dnll,
                                                   Tensor& dmean, Tensor& dlog_scale) {
  const int64_t N = dnll.numel(), S = per_image(x, N);
  dispatch_floating(x.dtype(), "discretized_logistic_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(x.raw());
    const T* m = static_cast<const T*>(mean.raw());
    const T* ls = static_cast<const T*>(log_scale.raw());
    const T* g = static_cast<const T*>(dnll.raw());
    T* dm = static_cast<T*>(dmean.raw());
    T* dls = static_cast<T*>(dlog_scale.raw());
#pragma omp parallel for if (N * S > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t i = n * S; i < (n + 1) * S; ++i) {
        // nll = -log p, so the gradients are the negated derivatives of log p.
        const math::LogisticGrad<T> d = math::discretized_logistic_logp_grad(xs[i], m[i], ls[i]);
        dm[i] = -g[n] * d.dmean;
        dls[i] = -g[n] * d.dlog_scale;
      }
    }
  });
}

}  // namespace gm

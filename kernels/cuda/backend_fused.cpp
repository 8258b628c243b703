// CudaBackend: the fused model kernels and the optimizer steps.
#include <cmath>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/launch_fused.h"
#include "kernels/dispatch_target.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
const T* ptr(const Tensor& t) {
  return static_cast<const T*>(t.raw());
}
template <typename T>
T* mut(Tensor& t) {
  return static_cast<T*>(t.raw());
}
// Elements per image of a tensor whose first dimension has N images.
int64_t per_image(const Tensor& t, int64_t N) {
  return N > 0 ? t.numel() / N : 0;
}

}  // namespace

void CudaBackend::softmax_xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  const Exec e = exec();
  Scratch partial(allocator_, static_cast<size_t>(N * row_chunks(e, S)) * sizeof(double));
  dispatch_floating(logits.dtype(), "softmax_xent_forward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_target(target, [&](auto target_zero) {
      using Target = decltype(target_zero);
      GM_CUDA_NS::softmax_xent_forward<T, Target>(e, ptr<T>(logits), ptr<Target>(target), N, V, S,
                                                  partial.as<double>(), mut<T>(nll));
    });
  });
  launched("softmax_xent_forward");
}

void CudaBackend::softmax_xent_backward(const Tensor& logits, const Tensor& target,
                                        const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  const Exec e = exec();
  dispatch_floating(logits.dtype(), "softmax_xent_backward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_target(target, [&](auto target_zero) {
      using Target = decltype(target_zero);
      GM_CUDA_NS::softmax_xent_backward<T, Target>(e, ptr<T>(logits), ptr<Target>(target),
                                                   ptr<T>(dnll), N, V, S, mut<T>(dlogits));
    });
  });
  launched("softmax_xent_backward");
}

void CudaBackend::sample_categorical(const Tensor& logits, double temperature, uint64_t seed,
                                     uint64_t offset, Tensor& out) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  const Exec e = exec();
  dispatch_floating(logits.dtype(), "sample_categorical", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::sample_categorical<T>(e, ptr<T>(logits), N, V, S, temperature, seed, offset,
                                      mut<int32_t>(out));
  });
  launched("sample_categorical");
}

void CudaBackend::lstm_cell_forward(const Tensor& gates, const Tensor& c_prev, Tensor& h,
                                    Tensor& c) {
  const int64_t N = c_prev.size(0), HS = per_image(c_prev, N);
  const Exec e = exec();
  dispatch_floating(gates.dtype(), "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::lstm_cell_forward<T>(e, ptr<T>(gates), ptr<T>(c_prev), N, HS, mut<T>(h), mut<T>(c));
  });
  launched("lstm_cell_forward");
}

void CudaBackend::lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                     const Tensor& dh, const Tensor& dc, Tensor& dgates,
                                     Tensor& dc_prev) {
  const int64_t N = c_prev.size(0), HS = per_image(c_prev, N);
  const Exec e = exec();
  dispatch_floating(gates.dtype(), "lstm_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::lstm_cell_backward<T>(
        e, ptr<T>(gates), ptr<T>(c_prev), ptr<T>(c), dh.defined() ? ptr<T>(dh) : nullptr,
        dc.defined() ? ptr<T>(dc) : nullptr, N, HS, mut<T>(dgates), mut<T>(dc_prev));
  });
  launched("lstm_cell_backward");
}

void CudaBackend::gaussian_sample_forward(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                                          uint64_t offset, Tensor& eps, Tensor& z) {
  const Exec e = exec();
  dispatch_floating(mu.dtype(), "gaussian_sample_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::gaussian_sample_forward<T>(e, ptr<T>(mu), ptr<T>(logvar), mu.numel(), seed, offset,
                                           mut<T>(eps), mut<T>(z));
  });
  launched("gaussian_sample_forward");
}

void CudaBackend::gaussian_sample_backward(const Tensor& logvar, const Tensor& eps,
                                           const Tensor& dz, Tensor& dmu, Tensor& dlogvar) {
  const Exec e = exec();
  dispatch_floating(logvar.dtype(), "gaussian_sample_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::gaussian_sample_backward<T>(e, ptr<T>(logvar), ptr<T>(eps), ptr<T>(dz),
                                            logvar.numel(), mut<T>(dmu), mut<T>(dlogvar));
  });
  launched("gaussian_sample_backward");
}

void CudaBackend::kl_std_normal_forward(const Tensor& mu, const Tensor& logvar, Tensor& kl) {
  const int64_t N = kl.numel(), D = per_image(mu, N);
  const Exec e = exec();
  Scratch partial(allocator_, static_cast<size_t>(N * row_chunks(e, D)) * sizeof(double));
  dispatch_floating(mu.dtype(), "kl_std_normal_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::kl_std_normal_forward<T>(e, ptr<T>(mu), ptr<T>(logvar), N, D, partial.as<double>(),
                                         mut<T>(kl));
  });
  launched("kl_std_normal_forward");
}

void CudaBackend::kl_std_normal_backward(const Tensor& mu, const Tensor& logvar, const Tensor& dkl,
                                         Tensor& dmu, Tensor& dlogvar) {
  const int64_t N = dkl.numel(), D = per_image(mu, N);
  const Exec e = exec();
  dispatch_floating(mu.dtype(), "kl_std_normal_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::kl_std_normal_backward<T>(e, ptr<T>(mu), ptr<T>(logvar), ptr<T>(dkl), N, D,
                                          mut<T>(dmu), mut<T>(dlogvar));
  });
  launched("kl_std_normal_backward");
}

void CudaBackend::bernoulli_nll_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(logits, N);
  const Exec e = exec();
  Scratch partial(allocator_, static_cast<size_t>(N * row_chunks(e, S)) * sizeof(double));
  dispatch_floating(logits.dtype(), "bernoulli_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::bernoulli_nll_forward<T>(e, ptr<T>(logits), ptr<T>(target), N, S,
                                         partial.as<double>(), mut<T>(nll));
  });
  launched("bernoulli_nll_forward");
}

void CudaBackend::bernoulli_nll_backward(const Tensor& logits, const Tensor& target,
                                         const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = dnll.numel(), S = per_image(logits, N);
  const Exec e = exec();
  dispatch_floating(logits.dtype(), "bernoulli_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::bernoulli_nll_backward<T>(e, ptr<T>(logits), ptr<T>(target), ptr<T>(dnll), N, S,
                                          mut<T>(dlogits));
  });
  launched("bernoulli_nll_backward");
}

void CudaBackend::discretized_logistic_nll_forward(const Tensor& x, const Tensor& mean,
                                                   const Tensor& log_scale, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(x, N);
  const Exec e = exec();
  Scratch partial(allocator_, static_cast<size_t>(N * row_chunks(e, S)) * sizeof(double));
  dispatch_floating(x.dtype(), "discretized_logistic_nll_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::discretized_logistic_nll_forward<T>(e, ptr<T>(x), ptr<T>(mean), ptr<T>(log_scale),
                                                    N, S, partial.as<double>(), mut<T>(nll));
  });
  launched("discretized_logistic_nll_forward");
}

void CudaBackend::discretized_logistic_nll_backward(const Tensor& x, const Tensor& mean,
                                                    const Tensor& log_scale, const Tensor& dnll,
                                                    Tensor& dmean, Tensor& dlog_scale) {
  const int64_t N = dnll.numel(), S = per_image(x, N);
  const Exec e = exec();
  dispatch_floating(x.dtype(), "discretized_logistic_nll_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::discretized_logistic_nll_backward<T>(e, ptr<T>(x), ptr<T>(mean), ptr<T>(log_scale),
                                                     ptr<T>(dnll), N, S, mut<T>(dmean),
                                                     mut<T>(dlog_scale));
  });
  launched("discretized_logistic_nll_backward");
}

void CudaBackend::adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                              Tensor& v) {
  const Exec e = exec();
  dispatch_floating(param.dtype(), "adam_update", [&](auto zero) {
    using T = decltype(zero);
    const math::AdamConstants<T> c =
        math::adam_constants<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled, s.step);
    GM_CUDA_NS::adam_update<T>(e, c, mut<T>(param), ptr<T>(grad), mut<T>(m), mut<T>(v),
                               param.numel());
  });
  launched("adam_update");
}

void CudaBackend::sgd_update(const SgdStep& s, Tensor& param, const Tensor& grad,
                             Tensor& momentum_buffer) {
  const Exec e = exec();
  dispatch_floating(param.dtype(), "sgd_update", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::sgd_update<T>(e, s, mut<T>(param), ptr<T>(grad),
                              momentum_buffer.defined() ? mut<T>(momentum_buffer) : nullptr,
                              param.numel());
  });
  launched("sgd_update");
}

}  // namespace gm::GM_CUDA_NS

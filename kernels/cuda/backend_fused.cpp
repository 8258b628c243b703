// CudaBackend: the fused model kernels and the optimizer steps. Each entry computes its sizes
// and hands its arguments to the launcher of the same name (kernels/cuda/launch_fused.h)
// through GM_LAUNCH_FLOATING, which picks T and unpacks the tensors.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/launch_fused.h"
#include "kernels/dispatch_target.h"

namespace gm::GM_CUDA_NS {

namespace {

// Elements per image of a tensor whose first dimension has N images.
int64_t per_image(const Tensor& t, int64_t N) {
  return N > 0 ? t.numel() / N : 0;
}

}  // namespace

CudaBackend::Scratch CudaBackend::partial_sums(int64_t N, int64_t S) {
  const Exec e = exec();
  return Scratch(allocator_, static_cast<size_t>(N * row_chunks(e, S)) * sizeof(double));
}

void CudaBackend::softmax_xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  Scratch partial(allocator_,
                  static_cast<size_t>(std::max<int64_t>(N * xent_chunks(S), 1)) * sizeof(double));
  dispatch_target(target, [&](auto target_zero) {
    using Target = decltype(target_zero);
    GM_LAUNCH_FLOATING(softmax_xent_forward, logits, logits,
                       static_cast<const Target*>(target.raw()), N, V, S, partial.as<double>(),
                       nll);
  });
}

void CudaBackend::softmax_xent_backward(const Tensor& logits, const Tensor& target,
                                        const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  dispatch_target(target, [&](auto target_zero) {
    using Target = decltype(target_zero);
    GM_LAUNCH_FLOATING(softmax_xent_backward, logits, logits,
                       static_cast<const Target*>(target.raw()), dnll, N, V, S, dlogits);
  });
}

void CudaBackend::sample_categorical(const Tensor& logits, double temperature, uint64_t seed,
                                     uint64_t offset, Tensor& out) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  GM_LAUNCH_FLOATING(sample_categorical, logits, logits, N, V, S, temperature, seed, offset,
                     static_cast<int32_t*>(out.raw()));
}

void CudaBackend::lstm_cell_forward(const Tensor& gates, const Tensor& c_prev, Tensor& h,
                                    Tensor& c) {
  const int64_t N = c_prev.size(0);
  GM_LAUNCH_FLOATING(lstm_cell_forward, gates, gates, c_prev, N, per_image(c_prev, N), h, c);
}

void CudaBackend::lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                     const Tensor& dh, const Tensor& dc, Tensor& dgates,
                                     Tensor& dc_prev) {
  const int64_t N = c_prev.size(0);
  GM_LAUNCH_FLOATING(lstm_cell_backward, gates, gates, c_prev, c, dh, dc, N, per_image(c_prev, N),
                     dgates, dc_prev);
}

void CudaBackend::bias_relu_forward(const Tensor& x, const Tensor& bias, Tensor& y) {
  const int64_t C = bias.numel(), rows = x.size(0) * C;
  GM_LAUNCH_FLOATING(bias_relu_forward, x, x, bias, x.numel(), C, rows > 0 ? x.numel() / rows : 0,
                     y);
}

void CudaBackend::bias_relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  GM_LAUNCH_FLOATING(bias_relu_backward, y, y, dy, y.numel(), dx);
}

void CudaBackend::gaussian_sample_forward(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                                          uint64_t offset, Tensor& eps, Tensor& z) {
  GM_LAUNCH_FLOATING(gaussian_sample_forward, mu, mu, logvar, mu.numel(), seed, offset, eps, z);
}

void CudaBackend::gaussian_sample_backward(const Tensor& logvar, const Tensor& eps,
                                           const Tensor& dz, Tensor& dmu, Tensor& dlogvar) {
  GM_LAUNCH_FLOATING(gaussian_sample_backward, logvar, logvar, eps, dz, logvar.numel(), dmu,
                     dlogvar);
}

void CudaBackend::kl_std_normal_forward(const Tensor& mu, const Tensor& logvar, Tensor& kl) {
  const int64_t N = kl.numel(), D = per_image(mu, N);
  Scratch partial = partial_sums(N, D);
  GM_LAUNCH_FLOATING(kl_std_normal_forward, mu, mu, logvar, N, D, partial.as<double>(), kl);
}

void CudaBackend::kl_std_normal_backward(const Tensor& mu, const Tensor& logvar, const Tensor& dkl,
                                         Tensor& dmu, Tensor& dlogvar) {
  const int64_t N = dkl.numel();
  GM_LAUNCH_FLOATING(kl_std_normal_backward, mu, mu, logvar, dkl, N, per_image(mu, N), dmu,
                     dlogvar);
}

void CudaBackend::bernoulli_nll_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(logits, N);
  Scratch partial = partial_sums(N, S);
  GM_LAUNCH_FLOATING(bernoulli_nll_forward, logits, logits, target, N, S, partial.as<double>(),
                     nll);
}

void CudaBackend::bernoulli_nll_backward(const Tensor& logits, const Tensor& target,
                                         const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = dnll.numel();
  GM_LAUNCH_FLOATING(bernoulli_nll_backward, logits, logits, target, dnll, N, per_image(logits, N),
                     dlogits);
}

void CudaBackend::discretized_logistic_nll_forward(const Tensor& x, const Tensor& mean,
                                                   const Tensor& log_scale, Tensor& nll) {
  const int64_t N = nll.numel(), S = per_image(x, N);
  Scratch partial = partial_sums(N, S);
  GM_LAUNCH_FLOATING(discretized_logistic_nll_forward, x, x, mean, log_scale, N, S,
                     partial.as<double>(), nll);
}

void CudaBackend::discretized_logistic_nll_backward(const Tensor& x, const Tensor& mean,
                                                    const Tensor& log_scale, const Tensor& dnll,
                                                    Tensor& dmean, Tensor& dlog_scale) {
  const int64_t N = dnll.numel();
  GM_LAUNCH_FLOATING(discretized_logistic_nll_backward, x, x, mean, log_scale, dnll, N,
                     per_image(x, N), dmean, dlog_scale);
}

void CudaBackend::adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                              Tensor& v) {
  GM_LAUNCH_FLOATING(
      adam_update, param,
      math::adam_constants<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled, s.step),
      param, grad, m, v, param.numel());
}

void CudaBackend::sgd_update(const SgdStep& s, Tensor& param, const Tensor& grad,
                             Tensor& momentum_buffer) {
  GM_LAUNCH_FLOATING(sgd_update, param, s, param, grad, momentum_buffer, param.numel());
}

}  // namespace gm::GM_CUDA_NS

// The VAE's Gaussian kernels: reparameterised sample and the closed-form KL to N(0, I).
#include "kernels/common/gaussian_math.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
constexpr int64_t kParallelThreshold = 16384;
}

void CpuBackend::gaussian_sample_forward(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                                         uint64_t offset, Tensor& eps, Tensor& z) {
  dispatch_floating(mu.dtype(), "gaussian_sample_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* m = static_cast<const T*>(mu.raw());
    const T* lv = static_cast<const T*>(logvar.raw());
    T* e = static_cast<T*>(eps.raw());
    T* out = static_cast<T*>(z.raw());
    const int64_t n = mu.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      e[i] = static_cast<T>(philox::normal(seed, offset, static_cast<uint64_t>(i)));
      out[i] = math::gaussian_sample(m[i], lv[i], e[i]);
    }
  });
}

void CpuBackend::gaussian_sample_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                                          Tensor& dmu, Tensor& dlogvar) {
  dispatch_floating(logvar.dtype(), "gaussian_sample_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* lv = static_cast<const T*>(logvar.raw());
    const T* e = static_cast<const T*>(eps.raw());
    const T* g = static_cast<const T*>(dz.raw());
    T* dm = static_cast<T*>(dmu.raw());
    T* dl = static_cast<T*>(dlogvar.raw());
    const int64_t n = logvar.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      dm[i] = g[i];
      dl[i] = math::gaussian_sample_dlogvar(lv[i], e[i], g[i]);
    }
  });
}

void CpuBackend::kl_std_normal_forward(const Tensor& mu, const Tensor& logvar, Tensor& kl) {
  const int64_t N = kl.numel();
  const int64_t D = N > 0 ? mu.numel() / N : 0;
  dispatch_floating(mu.dtype(), "kl_std_normal_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* m = static_cast<const T*>(mu.raw());
    const T* lv = static_cast<const T*>(logvar.raw());
    T* out = static_cast<T*>(kl.raw());
#pragma omp parallel for if (N * D > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      double total = 0.0;  // per-row sums in double
      for (int64_t d = n * D; d < (n + 1) * D; ++d)
        total += static_cast<double>(math::kl_std_normal(m[d], lv[d]));
      out[n] = static_cast<T>(total);
    }
  });
}

void CpuBackend::kl_std_normal_backward(const Tensor& mu, const Tensor& logvar, const Tensor& dkl,
                                        Tensor& dmu, Tensor& dlogvar) {
  const int64_t N = dkl.numel();
  const int64_t D = N > 0 ? mu.numel() / N : 0;
  dispatch_floating(mu.dtype(), "kl_std_normal_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* m = static_cast<const T*>(mu.raw());
    const T* lv = static_cast<const T*>(logvar.raw());
    const T* g = static_cast<const T*>(dkl.raw());
    T* dm = static_cast<T*>(dmu.raw());
    T* dl = static_cast<T*>(dlogvar.raw());
#pragma omp parallel for if (N * D > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t d = n * D; d < (n + 1) * D; ++d) {
        dm[d] = math::kl_std_normal_dmu(m[d], g[n]);
        dl[d] = math::kl_std_normal_dlogvar(lv[d], g[n]);
      }
    }
  });
}

}  // namespace gm

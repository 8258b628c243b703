// The VAE's Gaussian kernels with kernels/common/gaussian_math.h: the reparameterised sample
// (noise from Philox, element i from counter offset + i as on the CPU) and the closed-form KL
// to N(0, I), summed per row with the deterministic row_sums.
#include "kernels/common/gaussian_math.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/launch_entries.h"
#include "kernels/cuda/row_sum.cuh"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void sample_forward_kernel(const T* mu, const T* logvar, int64_t n, uint64_t seed,
                                      uint64_t offset, T* eps, T* z) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const T e = static_cast<T>(philox::normal(seed, offset, static_cast<uint64_t>(i)));
    eps[i] = e;
    z[i] = math::gaussian_sample(mu[i], logvar[i], e);
  }
}

template <typename T>
__global__ void sample_backward_kernel(const T* logvar, const T* eps, const T* dz, int64_t n,
                                       T* dmu, T* dlogvar) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    dmu[i] = dz[i];
    dlogvar[i] = math::gaussian_sample_dlogvar(logvar[i], eps[i], dz[i]);
  }
}

template <typename T>
struct KlTerm {
  const T* mu;
  const T* logvar;
  int64_t D;
  __device__ double operator()(int64_t n, int64_t d) const {
    return static_cast<double>(math::kl_std_normal(mu[n * D + d], logvar[n * D + d]));
  }
};

template <typename T>
__global__ void kl_backward_kernel(const T* mu, const T* logvar, const T* dkl, int64_t N, int64_t D,
                                   T* dmu, T* dlogvar) {
  for (int64_t i = global_thread(); i < N * D; i += grid_threads()) {
    const T g = dkl[i / D];
    dmu[i] = math::kl_std_normal_dmu(mu[i], g);
    dlogvar[i] = math::kl_std_normal_dlogvar(logvar[i], g);
  }
}

}  // namespace

namespace launchers {

void gaussian_sample_forward(const Exec& e, const Tensor& mu, const Tensor& logvar, uint64_t seed,
                             uint64_t offset, Tensor& eps, Tensor& z) {
  const int64_t n = mu.numel;
  if (n == 0) return;
  with_floating(mu.dtype, "gaussian_sample_forward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<sample_forward_kernel<T>>(n, e.block);
    GM_LAUNCH((sample_forward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (mu.data<T>(), logvar.data<T>(), n, seed, offset, eps.data<T>(), z.data<T>());
  });
}

void gaussian_sample_backward(const Exec& e, const Tensor& logvar, const Tensor& eps,
                              const Tensor& dz, Tensor& dmu, Tensor& dlogvar) {
  const int64_t n = logvar.numel;
  if (n == 0) return;
  with_floating(logvar.dtype, "gaussian_sample_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<sample_backward_kernel<T>>(n, e.block);
    GM_LAUNCH((sample_backward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
    (logvar.data<T>(), eps.data<T>(), dz.data<T>(), n, dmu.data<T>(), dlogvar.data<T>());
  });
}

void kl_std_normal_forward(const Exec& e, const Tensor& mu, const Tensor& logvar, Tensor& kl) {
  const int64_t N = kl.numel, D = mu.per_image();
  with_floating(mu.dtype, "kl_std_normal_forward", [&](auto zero) {
    using T = decltype(zero);
    row_sums(e, KlTerm<T>{mu.data<T>(), logvar.data<T>(), D}, N, D, kl.data<T>());
  });
}

void kl_std_normal_backward(const Exec& e, const Tensor& mu, const Tensor& logvar,
                            const Tensor& dkl, Tensor& dmu, Tensor& dlogvar) {
  const int64_t N = dkl.numel, D = mu.per_image();
  if (N * D == 0) return;
  with_floating(mu.dtype, "kl_std_normal_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<kl_backward_kernel<T>>(N * D, e.block);
    GM_LAUNCH((kl_backward_kernel<T>), blocks_for(N * D, threads), threads, 0, e.stream)
    (mu.data<T>(), logvar.data<T>(), dkl.data<T>(), N, D, dmu.data<T>(), dlogvar.data<T>());
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS

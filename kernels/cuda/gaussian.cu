// The VAE's Gaussian kernels with kernels/common/gaussian_math.h: the reparameterised sample
// (noise from Philox, element i from counter offset + i as on the CPU) and the closed-form KL
// to N(0, I), summed per row with the deterministic row_sums.
#include "kernels/common/gaussian_math.h"
#include "kernels/common/philox.h"
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

template <typename T>
void gaussian_sample_forward(const Exec& e, const T* mu, const T* logvar, int64_t n, uint64_t seed,
                             uint64_t offset, T* eps, T* z) {
  if (n == 0) return;
  const unsigned threads = kernel_threads<sample_forward_kernel<T>>(n, e.block);
  GM_LAUNCH((sample_forward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (mu, logvar, n, seed, offset, eps, z);
}

template <typename T>
void gaussian_sample_backward(const Exec& e, const T* logvar, const T* eps, const T* dz, int64_t n,
                              T* dmu, T* dlogvar) {
  if (n == 0) return;
  const unsigned threads = kernel_threads<sample_backward_kernel<T>>(n, e.block);
  GM_LAUNCH((sample_backward_kernel<T>), blocks_for(n, threads), threads, 0, e.stream)
  (logvar, eps, dz, n, dmu, dlogvar);
}

template <typename T>
void kl_std_normal_forward(const Exec& e, const T* mu, const T* logvar, int64_t N, int64_t D,
                           double* partial, T* kl) {
  row_sums(e, KlTerm<T>{mu, logvar, D}, N, D, partial, kl);
}

template <typename T>
void kl_std_normal_backward(const Exec& e, const T* mu, const T* logvar, const T* dkl, int64_t N,
                            int64_t D, T* dmu, T* dlogvar) {
  if (N * D == 0) return;
  const unsigned threads = kernel_threads<kl_backward_kernel<T>>(N * D, e.block);
  GM_LAUNCH((kl_backward_kernel<T>), blocks_for(N * D, threads), threads, 0, e.stream)
  (mu, logvar, dkl, N, D, dmu, dlogvar);
}

#define GM_INSTANTIATE(T)                                                                       \
  template void gaussian_sample_forward<T>(const Exec&, const T*, const T*, int64_t, uint64_t,  \
                                           uint64_t, T*, T*);                                   \
  template void gaussian_sample_backward<T>(const Exec&, const T*, const T*, const T*, int64_t, \
                                            T*, T*);                                            \
  template void kl_std_normal_forward<T>(const Exec&, const T*, const T*, int64_t, int64_t,     \
                                         double*, T*);                                          \
  template void kl_std_normal_backward<T>(const Exec&, const T*, const T*, const T*, int64_t,   \
                                          int64_t, T*, T*);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS

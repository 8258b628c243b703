#pragma once
// The CPU backend: plain loops (OpenMP over the outer dimension) and OpenBLAS for GEMM.
// It is the reference every other device is tested against, so clarity comes before speed
// except in the GEMM-shaped hot paths (conv, linear). Definitions are split by kernel
// family: cpu_backend.cpp (memory, fills, copies), elementwise.cpp, gemm.cpp, conv.cpp,
// softmax_xent.cpp, lstm_cell.cpp, gaussian.cpp, likelihoods.cpp (model kernels), optim.cpp.
#include "engine/backend.h"
#include "kernels/cpu/block_cache.h"

namespace gm {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override;
  void copy_within(void* dst, const void* src, size_t bytes) override;
  void synchronize() override {}
  // Host memory through the block cache (kernels/cpu/block_cache.h): peak and cached bytes.
  HostMemoryStats memory_stats() const { return cache_.stats(); }
  void reset_peak_memory() { cache_.reset_peak(); }

  void fill(Tensor& y, double value) override;
  void arange(Tensor& y) override;
  void cast(const Tensor& x, Tensor& y) override;
  void fill_uniform(Tensor& y, uint64_t seed, uint64_t offset, double low, double high) override;
  void fill_normal(Tensor& y, uint64_t seed, uint64_t offset, double mean, double stddev) override;
  void strided_copy(const Tensor& src, Tensor& dst, const StridedCopy& box) override;

  void unary(UnaryOp op, const UnaryParams& p, const Tensor& x, Tensor& y) override;
  void unary_backward(UnaryOp op, const UnaryParams& p, const Tensor& x, const Tensor& y,
                      const Tensor& dy, Tensor& dx) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& y) override;
  void sum_axis(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) override;
  void axpy(double alpha, const Tensor& x, Tensor& y) override;

  void gemm(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) override;

  void conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                      const Tensor& w, Tensor& y) override;
  void conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                           const Tensor& w, const Tensor& bias, Tensor& y) override;
  void conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& dy,
                            const Tensor& w, Tensor& dx) override;
  void conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                              const Tensor& dy, Tensor& dw) override;

  void softmax_xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll) override;
  void softmax_xent_backward(const Tensor& logits, const Tensor& target, const Tensor& dnll,
                             Tensor& dlogits) override;
  void sample_categorical(const Tensor& logits, double temperature, uint64_t seed, uint64_t offset,
                          Tensor& out) override;
  void lstm_cell_forward(const Tensor& gates, const Tensor& c_prev, Tensor& h, Tensor& c) override;
  void lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                          const Tensor& dh, const Tensor& dc, Tensor& dgates,
                          Tensor& dc_prev) override;
  void gaussian_sample_forward(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                               uint64_t offset, Tensor& eps, Tensor& z) override;
  void gaussian_sample_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                                Tensor& dmu, Tensor& dlogvar) override;
  void kl_std_normal_forward(const Tensor& mu, const Tensor& logvar, Tensor& kl) override;
  void kl_std_normal_backward(const Tensor& mu, const Tensor& logvar, const Tensor& dkl,
                              Tensor& dmu, Tensor& dlogvar) override;
  void bernoulli_nll_forward(const Tensor& logits, const Tensor& target, Tensor& nll) override;
  void bernoulli_nll_backward(const Tensor& logits, const Tensor& target, const Tensor& dnll,
                              Tensor& dlogits) override;
  void discretized_logistic_nll_forward(const Tensor& x, const Tensor& mean,
                                        const Tensor& log_scale, Tensor& nll) override;
  void discretized_logistic_nll_backward(const Tensor& x, const Tensor& mean,
                                         const Tensor& log_scale, const Tensor& dnll, Tensor& dmean,
                                         Tensor& dlog_scale) override;

  void adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                   Tensor& v) override;
  void sgd_update(const SgdStep& s, Tensor& param, const Tensor& grad,
                  Tensor& momentum_buffer) override;

 private:
  BlockCache cache_;
};

CpuBackend& cpu_backend();

}  // namespace gm

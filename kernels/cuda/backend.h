#pragma once
// CudaBackend: gm::Backend on a CUDA device, compiled twice from the same source (platform.h):
// gm::cuda::CudaBackend on real GPUs and gm::cuda_emu::CudaBackend on the simt executor.
// Definitions are split by kernel family: backend.cpp (memory, copies, fills),
// backend_math.cpp (elementwise, reductions, GEMM, convolution), backend_fused.cpp (model
// kernels, optimizers). Each method validates nothing the op already checked: it picks the
// dtype, unpacks tensors into pointers and shapes, and calls a launcher of launch.h.
#include <memory>
#include <string>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

class CudaBackend final : public CudaBackendBase {
 public:
  CudaBackend(int device, std::string name);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return name_; }

  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override;
  void copy_within(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;

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

  void set_gemm(CudaGemm kernel) override;
  CudaGemm gemm_kernel() const override { return gemm_; }
  void set_debug_allocations(bool on) override { allocator_.set_debug(on); }
  bool debug_allocations() const override { return allocator_.debug(); }
  AllocatorStats allocator_stats() const override { return allocator_.stats(); }
  void check_allocations() override { allocator_.check(); }

 private:
  // Makes this backend's GPU current and returns the launch settings.
  Exec exec();
  // Raises an error of the launch just issued (a bad configuration; faults inside kernels
  // surface at the next synchronizing call).
  void launched(const char* what);
  // A temporary device buffer, returned to the cache when it goes out of scope. The stream
  // orders its reuse after the kernels that were queued with it.
  class Scratch {
   public:
    Scratch(CachingAllocator& allocator, size_t bytes)
        : allocator_(allocator), ptr_(allocator.allocate(bytes)) {}
    ~Scratch() { allocator_.deallocate(ptr_); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    template <typename T>
    T* as() const {
      return static_cast<T*>(ptr_);
    }

   private:
    CachingAllocator& allocator_;
    void* ptr_;
  };
  void gemm_vendor(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c);

  int device_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  CachingAllocator allocator_;
  CudaGemm gemm_ = CudaGemm::tiled;
  void* blas_ = nullptr;  // cublasHandle_t on real GPUs, created on first use
};

}  // namespace gm::GM_CUDA_NS

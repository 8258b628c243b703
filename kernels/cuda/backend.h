#pragma once
// CudaBackend: gm::Backend on a CUDA device, compiled twice from the same source (platform.h):
// gm::cuda::CudaBackend on real GPUs and gm::cuda_emu::CudaBackend on the simt executor.
// Definitions are split by kernel family: backend.cpp (memory, copies, fills), backend_math.cpp
// (elementwise, reductions, GEMM, convolution), backend_multi.cpp (multi-tensor optimizer
// steps); the kernel entries (model kernels, optimizers) are generated below from
// engine/backend_ops.def and their launchers live in the .cu files. Each method validates
// nothing the op already checked: it unpacks tensors and calls a launcher of launch*.h.
#include <array>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/launch_entries.h"

namespace gm::GM_CUDA_NS {

// A launcher's argument from a kernel entry's: a tensor becomes its TensorView (a null pointer
// where it is undefined, an absent optional input), anything else passes unchanged.
TensorView kernel_argument(const Tensor& t);
template <typename V>
requires(!std::is_same_v<std::remove_cvref_t<V>, Tensor>) const V& kernel_argument(const V& v) {
  return v;
}

class CudaBackend final : public CudaBackendBase {
 public:
  CudaBackend(int device, std::string name);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return name_; }

  void set_gemm(CudaGemm kernel) override;
  CudaGemm gemm_kernel() const override { return gemm_; }
  void set_debug_allocations(bool on) override { allocator_.set_debug(on); }
  bool debug_allocations() const override { return allocator_.debug(); }
  AllocatorStats allocator_stats() const override { return allocator_.stats(); }
  void check_allocations() override { allocator_.check(); }
  CudaCounters counters() const override { return counters_.snapshot(); }
  std::unique_ptr<CudaGraph> capture(const std::function<void()>& work) override;
  bool capturing() const override { return capturing_; }

  // clang-format off: the entries of engine/backend_ops.def. A kernel entry is defined right
  // here: its arguments go to the launcher of its name (kernels/cuda/launch_entries.h). The
  // fused convolutions take the ReLU, bias and residual into im2col, col2im and the GEMM's
  // starting value (backend_conv.cpp).
#define GM_BACKEND_ENTRY(ret, name, params) ret name params override;
#define GM_FUSED_CONV_ENTRY(ret, name, params) ret name params override;
#define GM_ARGUMENTS(...) __VA_ARGS__
#define GM_KERNEL_ENTRY(name, params, args)                      \
  void name params override {                                    \
    run_kernel_entry(#name, launchers::name, GM_ARGUMENTS args); \
  }
#include "engine/backend_ops.def"
#undef GM_ARGUMENTS
  // clang-format on

  // Copies into pinned host memory behind an event (backend.cpp).
  std::unique_ptr<HostReadback> make_readback() override;
  // The PixelRNN scan: one kernel for the forward, four launches for the backward, when a
  // line's state fits in a block's shared memory; else the per-step default (backend_scan.cpp).
  void lstm_scan_forward(const LstmScan& s, const Tensor& x, const Tensor& weight,
                         const Tensor& bias, Tensor& h, Tensor& c, Tensor& gates) override;
  void lstm_scan_backward(const LstmScan& s, const Tensor& weight, const Tensor& h, const Tensor& c,
                          const Tensor& gates, const Tensor& dh, Tensor& dx, Tensor& dweight,
                          Tensor& dbias) override;
  // One launch for a bias's gradient (backend_math.cpp).
  void sum_per_channel(const Tensor& x, Tensor& y) override;
  // A convolution's weight and bias gradients: the bias's summed inside the weight-gradient
  // GEMM where it fuses (backend_conv.cpp).
  void conv2d_backward_weight_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                   bool relu, const Tensor& dy, Tensor& dw, Tensor& db) override;
  // The optional entries it overrides: one launch per kMultiTensors tensors (backend_multi.cpp).
  void adam_update_many(const AdamStep& s, const std::vector<OptimizerTensors>& list) override;
  void sgd_update_many(const SgdStep& s, const std::vector<OptimizerTensors>& list) override;
  Tensor sum_of_squares_many(const std::vector<Tensor>& tensors) override;
  void scale_many(double factor, const std::vector<Tensor>& tensors) override;
  void record_step_stats(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                         int64_t slot) override;
  void record_step_stats_at(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                            const Tensor& slot) override;
  // Softmax cross-entropy keeping each position's statistics for the backward (softmax_xent.cu).
  void softmax_xent_forward_stats(const Tensor& logits, const Tensor& target, Tensor& nll,
                                  Tensor& stats) override {
    run_kernel_entry("softmax_xent_forward_stats", launchers::softmax_xent_forward_stats, logits,
                     target, nll, stats);
  }
  void softmax_xent_backward_stats(const Tensor& logits, const Tensor& target, const Tensor& stats,
                                   const Tensor& dnll, Tensor& dlogits) override {
    run_kernel_entry("softmax_xent_backward_stats", launchers::softmax_xent_backward_stats, logits,
                     target, stats, dnll, dlogits);
  }

 private:
  // Makes this backend's GPU current and returns the launch settings.
  Exec exec();
  // Raises an error of the launch just issued (a bad configuration; faults inside kernels
  // surface at the next synchronizing call).
  void launched(const char* what);
  // Calls launcher(exec, arguments...) with every tensor as its TensorView, then checks the
  // launch. The views live in a tuple so that output parameters (`TensorView&`) bind to them.
  template <typename... Params, typename... Args>
  void run_kernel_entry(const char* name, void (*launcher)(const Exec&, Params...),
                        const Args&... args) {
    const Exec e = exec();
    std::tuple arguments{kernel_argument(args)...};
    std::apply([&](auto&... a) { launcher(e, a...); }, arguments);
    launched(name);
  }
  // The GEMM entry on raw device pointers (convolutions call it on scratch buffers): cuBLAS or
  // our tiled kernel, whichever gemm_ selects.
  // `what` names the op in errors (GM_CUDA_SYNC_DEBUG). A fusion `f` only where gemm_fuses.
  void gemm_pointers(const Gemm& g, DType dtype, const void* a, const void* b, void* c,
                     const char* what = "gemm", const GemmFusion& f = GemmFusion{});
  // Whether a GEMM of `dtype` runs on the tensor cores (GM_CUDA_GEMM=tensor, or TF32/BF16).
  bool tensor_core_gemm(DType dtype) const;
  // Whether a GEMM of `dtype` runs our tiled kernel, the one that takes a GemmFusion: not
  // cuBLAS, not the tensor cores. Elsewhere the convolutions launch the unfused sequence.
  bool gemm_fuses(DType dtype) const;
  void gemm_vendor(const Gemm& g, DType dtype, const void* a, const void* b, void* c);
  // Throws when a capture is in progress: `what` (a host wait) cannot be captured.
  void refuse_while_capturing(const char* what) const;

  class Graph;     // the CudaGraph of capture() (backend_graph.cpp)
  class Readback;  // the HostReadback of make_readback() (backend.cpp)
  // Waits for `event` if the device has not reached it yet, counting the wait as a host
  // synchronisation only when there was one.
  void wait_if_pending(cudaEvent_t event);

  // The convolutions behind the plain and the fused entries (backend_conv.cpp): relu_input
  // convolves relu(x); bias and residual (null: none) are added to the forward's output.
  struct ConvFusion {
    bool relu_input = false;
    const Tensor* bias = nullptr;
    const Tensor* residual = nullptr;
  };
  void conv_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x, const Tensor& w,
                    Tensor& y, const ConvFusion& f);
  void conv_backward_data(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& dy,
                          const Tensor& w, Tensor& dx, const Tensor* relu_x);
  void conv_backward_weight(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                            const Tensor& dy, Tensor& dw, bool relu_input, Tensor* db);

  // Pinned host buffers that uploads pass through (copy_from_host), each with the event of
  // its last copy: a batch of 32 28x28 images is 25 KB, of 32x32x3 images 98 KB.
  static constexpr size_t kStagingBytes = size_t{1} << 20;
  static constexpr int kStagingSlots = 4;
  struct StagingSlot {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
  };

  int device_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  CudaCounterSet counters_;  // before allocator_, which counts its hits and misses in it
  CachingAllocator allocator_;
  CudaGemm gemm_ = CudaGemm::tiled;
  void* blas_ = nullptr;            // cublasHandle_t on real GPUs, created on first use
  void* blas_workspace_ = nullptr;  // the handle's fixed workspace, from allocator_
  size_t blas_workspace_bytes_ = 0;
  std::array<StagingSlot, kStagingSlots> staging_{};
  int next_staging_ = 0;
  bool capturing_ = false;
};

}  // namespace gm::GM_CUDA_NS

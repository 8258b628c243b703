#pragma once
// CudaBackend: gm::Backend on a CUDA device, compiled twice from the same source (platform.h):
// gm::cuda::CudaBackend on real GPUs and gm::cuda_emu::CudaBackend on the simt executor.
// Definitions are split by kernel family: backend.cpp (memory, copies, fills),
// backend_math.cpp (elementwise, reductions, GEMM, convolution), backend_fused.cpp (model
// kernels, optimizers). Each method validates nothing the op already checked: it picks the
// dtype, unpacks tensors into pointers and shapes, and calls a launcher of launch.h.
#include <array>
#include <memory>
#include <string>
#include <type_traits>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// A launcher's argument from a backend entry's: a tensor becomes its T pointer (null where it is
// undefined, an absent optional input), anything else passes unchanged.
template <typename T>
const T* device_arg(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw()) : nullptr;
}
template <typename T>
T* device_arg(Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw()) : nullptr;
}
template <typename T, typename V>
std::enable_if_t<!std::is_same_v<std::remove_cvref_t<V>, Tensor>, V> device_arg(V v) {
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

  // clang-format off: the entries of engine/backend_ops.def
#define GM_BACKEND_ENTRY(ret, name, params) ret name params override;
#include "engine/backend_ops.def"
#undef GM_BACKEND_ENTRY
  // clang-format on

  // One launch per kMultiTensors tensors (backend_multi.cpp).
  void adam_update_many(const AdamStep& s, const std::vector<OptimizerTensors>& list) override;
  void sgd_update_many(const SgdStep& s, const std::vector<OptimizerTensors>& list) override;
  Tensor sum_of_squares_many(const std::vector<Tensor>& tensors) override;
  void scale_many(double factor, const std::vector<Tensor>& tensors) override;
  void record_step_stats(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                         int64_t slot) override;

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
  // Runs launch(T{}, exec) for the floating dtype of `like`, then checks the launch.
  template <typename Fn>
  void launch_floating(const char* name, const Tensor& like, Fn&& launch) {
    const Exec e = exec();
    dispatch_floating(like.dtype(), name, [&](auto zero) { launch(zero, e); });
    launched(name);
  }
  // Scratch for the per-block partial sums of N per-image reductions over S positions each.
  Scratch partial_sums(int64_t N, int64_t S);
  // The GEMM entry on raw device pointers (convolutions call it on scratch buffers): cuBLAS or
  // our tiled kernel, whichever gemm_ selects.
  // `what` names the op in errors (GM_CUDA_SYNC_DEBUG).
  void gemm_pointers(const Gemm& g, DType dtype, const void* a, const void* b, void* c,
                     const char* what = "gemm");
  void gemm_vendor(const Gemm& g, DType dtype, const void* a, const void* b, void* c);

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
  void* blas_ = nullptr;  // cublasHandle_t on real GPUs, created on first use
  std::array<StagingSlot, kStagingSlots> staging_{};
  int next_staging_ = 0;
};

// Launches GM_CUDA_NS::launcher(exec, args...) for the floating dtype of `like` (as T, which the
// arguments may use), every tensor argument unpacked by device_arg, and checks the launch. For
// member functions of CudaBackend; an entry whose launcher takes its arguments in order is then
// its sizes plus one line.
#define GM_LAUNCH_FLOATING(launcher, like, ...)                                                  \
  launch_floating(#launcher, (like), [&](auto zero, const Exec& e) {                             \
    using T = decltype(zero);                                                                    \
    [&](auto&&... a) { GM_CUDA_NS::launcher(e, GM_CUDA_NS::device_arg<T>(a)...); }(__VA_ARGS__); \
  })

}  // namespace gm::GM_CUDA_NS

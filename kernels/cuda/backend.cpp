// CudaBackend: construction, device discovery, memory, copies, fills and conversions.
#include "kernels/cuda/backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/cuda/check.h"

#if !GM_CUDA_EMU
#include <cublas_v2.h>
#endif

namespace gm {

namespace GM_CUDA_NS {

namespace {

constexpr bool kEmulated = GM_CUDA_EMU;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

CudaBackend::CudaBackend(int device, std::string name)
    : device_(device),
      name_(std::move(name)),
      // Sentinels cost a memset and a check per allocation: always worth it on the CPU
      // executor, opt-in on a GPU.
      allocator_(name_,
                 env("GM_CUDA_DEBUG_ALLOC").empty() ? kEmulated : env("GM_CUDA_DEBUG_ALLOC") != "0",
                 counters_) {
  GM_CUDA_CHECK(cudaSetDevice(device_));
  GM_CUDA_CHECK(cudaStreamCreate(&stream_));
  gemm_ = kEmulated ? CudaGemm::tiled : CudaGemm::cublas;
  const std::string gemm = env("GM_CUDA_GEMM");
  if (gemm == "tiled") set_gemm(CudaGemm::tiled);
  if (gemm == "tiled64") set_gemm(CudaGemm::tiled64);
  if (gemm == "tiled32") set_gemm(CudaGemm::tiled32);
  if (gemm == "tensor") set_gemm(CudaGemm::tensor);
  if (gemm == "cublas") set_gemm(CudaGemm::cublas);
  GM_CHECK(gemm.empty() || gemm == "tiled" || gemm == "tiled64" || gemm == "tiled32" ||
               gemm == "tensor" || gemm == "cublas",
           "GM_CUDA_GEMM={} is not a GEMM kernel: use tiled, tiled64, tiled32, tensor or cublas",
           gemm);
  const std::string precision = env("GM_CUDA_PRECISION");
  GM_CHECK(precision.empty() || precision == "fp32" || precision == "tf32" || precision == "bf16",
           "GM_CUDA_PRECISION={} is not a GEMM precision: use fp32, tf32 or bf16", precision);
  if (precision == "tf32") set_matmul_precision(MatmulPrecision::tf32);
  if (precision == "bf16") set_matmul_precision(MatmulPrecision::bf16);
  const std::string conv = env("GM_CUDA_CONV");
  GM_CHECK(conv.empty() || conv == "im2col" || conv == "implicit",
           "GM_CUDA_CONV={} is not a convolution forward: use im2col or implicit", conv);
  if (conv == "implicit") set_conv_forward(CudaConvForward::implicit);
  const std::string sync = env("GM_CUDA_SYNC_DEBUG");
  GM_CHECK(sync.empty() || sync == "0" || sync == "1",
           "GM_CUDA_SYNC_DEBUG={} is not a switch: use 1 (synchronise after every launch) or 0",
           sync);
  sync_debug_ = sync == "1";
  const std::string block = env("GM_CUDA_BLOCK");
  if (!block.empty()) set_block_size(std::atoi(block.c_str()));
}

CudaBackend::~CudaBackend() {
#if !GM_CUDA_EMU
  if (blas_) cublasDestroy(static_cast<cublasHandle_t>(blas_));
#endif
  if (blas_workspace_) allocator_.deallocate(blas_workspace_);
  // Queued copies may still read the staging slots.
  if (stream_) cudaStreamSynchronize(stream_);
  for (StagingSlot& slot : staging_) {
    if (slot.done) cudaEventDestroy(slot.done);
    if (slot.host) cudaFreeHost(slot.host);
  }
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaBackend::set_gemm(CudaGemm kernel) {
  GM_CHECK(!(kEmulated && kernel == CudaGemm::cublas),
           "{}: cuBLAS needs a real GPU; the emulated device runs our own GEMM (tiled, tiled64, "
           "tiled32 or tensor)",
           name_);
  gemm_ = kernel;
}

TensorView kernel_argument(const Tensor& t) {
  TensorView v;
  if (!t.defined()) return v;
  v.raw = t.raw();
  v.dtype = t.dtype();
  v.ndim = t.ndim();
  GM_CHECK(v.ndim <= kMaxDims, "{}: a kernel takes at most {} dims", t.describe(), kMaxDims);
  for (int d = 0; d < v.ndim; ++d)
    v.shape[d] = t.size(d);
  v.numel = t.numel();
  return v;
}

void unsupported_dtype(const char* what, const char* expected, DType got) {
  fail("{}: expected a {} tensor, got {}", what, expected, dtype_name(got));
}

Exec CudaBackend::exec() {
  GM_CUDA_CHECK(cudaSetDevice(device_));
  return Exec{ExecStream(stream_, &counters_), block_size_, &allocator_};
}

void CudaBackend::launched(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    fail("{}: launching {} failed: {} ({})", name_, what, cudaGetErrorString(e),
         cudaGetErrorName(e));
  if (!sync_debug_ || capturing_) return;  // a capture records; its replay runs the kernels
  const cudaError_t run = cudaStreamSynchronize(stream_);
  if (run != cudaSuccess)
    fail(
        "{}: {} failed while running: {} ({}); GM_CUDA_SYNC_DEBUG synchronised right after its "
        "launch, so this op's kernel is the one that failed",
        name_, what, cudaGetErrorString(run), cudaGetErrorName(run));
  if (allocator_.debug()) allocator_.check();  // and name the op that wrote out of bounds
}

// ---- memory

void* CudaBackend::allocate(size_t bytes) {
  GM_CUDA_CHECK(cudaSetDevice(device_));
  return allocator_.allocate(bytes);
}

void CudaBackend::deallocate(void* ptr, size_t) {
  allocator_.deallocate(ptr);
}

void CudaBackend::copy_from_host(void* dst, const void* host_src, size_t bytes) {
  refuse_while_capturing("an upload from host memory");
  exec();
  counters_.to_device(bytes);
  if (bytes > kStagingBytes) {
    GM_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
    // The caller may free or change the host buffer as soon as we return.
    GM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    counters_.host_sync();
    return;
  }
  // Small copies (a batch) go through a pinned slot instead: the caller's buffer is free again
  // at once, the copy runs behind the kernels already queued, and the host waits only if the
  // slot's copy of kStagingSlots uploads ago has not run yet, which a training loop that reads
  // its results every few steps never sees.
  StagingSlot& slot = staging_[next_staging_];
  next_staging_ = (next_staging_ + 1) % kStagingSlots;
  if (slot.done)
    wait_if_pending(slot.done);
  else
    GM_CUDA_CHECK(cudaEventCreate(&slot.done));
  if (!slot.host) GM_CUDA_CHECK(cudaMallocHost(&slot.host, kStagingBytes));
  std::memcpy(slot.host, host_src, bytes);
  GM_CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, stream_));
  GM_CUDA_CHECK(cudaEventRecord(slot.done, stream_));
}

void CudaBackend::wait_if_pending(cudaEvent_t event) {
  const cudaError_t q = cudaEventQuery(event);
  if (q == cudaErrorNotReady) {
    cudaGetLastError();  // not an error: the work before the event is still queued
    GM_CUDA_CHECK(cudaEventSynchronize(event));
    counters_.host_sync();
  } else {
    GM_CUDA_CHECK(q);
  }
}

// Copies queued on the backend's stream into one pinned buffer, then an event: the host looks
// at the event (cudaEventQuery) and reads the buffer once the device has passed it, so queueing
// the copy never waits and a later look usually finds it done.
class CudaBackend::Readback final : public HostReadback {
 public:
  explicit Readback(CudaBackend& backend) : b_(backend) {}
  ~Readback() override {
    // The device may still be writing into the buffer.
    if (done_) {
      cudaEventSynchronize(done_);
      cudaEventDestroy(done_);
    }
    if (host_) cudaFreeHost(host_);
  }
  Readback(const Readback&) = delete;
  Readback& operator=(const Readback&) = delete;

  void start(const std::vector<Piece>& pieces) override {
    b_.refuse_while_capturing("reading device memory back to the host");
    b_.exec();
    size_t total = 0;
    for (const Piece& p : pieces)
      total += p.bytes;
    if (!done_) GM_CUDA_CHECK(cudaEventCreate(&done_));
    if (total > capacity_) {
      if (host_) {
        b_.wait_if_pending(done_);  // the last copy into the old buffer
        GM_CUDA_CHECK(cudaFreeHost(host_));
        host_ = nullptr;
      }
      // Rounded up, so that a buffer growing by a few bytes is not reallocated every time.
      capacity_ = std::max<size_t>(total, 4096);
      GM_CUDA_CHECK(cudaMallocHost(&host_, capacity_));
    }
    size_t at = 0;
    for (const Piece& p : pieces) {
      GM_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(host_) + at, p.src, p.bytes,
                                    cudaMemcpyDeviceToHost, b_.stream_));
      b_.counters_.to_host(p.bytes);
      at += p.bytes;
    }
    GM_CUDA_CHECK(cudaEventRecord(done_, b_.stream_));
  }

  bool ready() override {
    if (!done_) return true;
    const cudaError_t q = cudaEventQuery(done_);
    if (q == cudaErrorNotReady) {
      cudaGetLastError();  // not an error: the copy is still queued
      return false;
    }
    GM_CUDA_CHECK(q);
    b_.allocator_.raise_pending();
    return true;
  }

  void wait() override {
    b_.refuse_while_capturing("waiting for a readback");
    if (!done_) return;
    // Always counted: the caller needs the values now, which on a GPU is a wait whenever the
    // copy was queued behind a step's kernels, so cuda-emu (which has always finished) counts
    // what a GPU would.
    GM_CUDA_CHECK(cudaEventSynchronize(done_));
    b_.counters_.host_sync();
    b_.allocator_.raise_pending();
  }

  const void* data() const override { return host_; }

 private:
  CudaBackend& b_;
  void* host_ = nullptr;
  size_t capacity_ = 0;
  cudaEvent_t done_ = nullptr;
};

std::unique_ptr<HostReadback> CudaBackend::make_readback() {
  return std::make_unique<Readback>(*this);
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, size_t bytes) {
  refuse_while_capturing("reading device memory back to the host");
  exec();
  GM_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  counters_.to_host(bytes);
  GM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  counters_.host_sync();
  allocator_.raise_pending();
}

void CudaBackend::copy_within(void* dst, const void* src, size_t bytes) {
  exec();
  GM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::synchronize() {
  refuse_while_capturing("a synchronize");
  exec();
  GM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  counters_.host_sync();
  if (allocator_.debug()) allocator_.check();
  allocator_.raise_pending();
}

// ---- fills and conversions

void CudaBackend::fill(Tensor& y, double value) {
  const Exec e = exec();
  dispatch_any(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::fill<T>(e, static_cast<T*>(y.raw()), y.numel(), static_cast<T>(value));
  });
  launched("fill");
}

void CudaBackend::arange(Tensor& y) {
  const Exec e = exec();
  dispatch_any(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::arange<T>(e, static_cast<T*>(y.raw()), y.numel());
  });
  launched("arange");
}

void CudaBackend::cast(const Tensor& x, Tensor& y) {
  const Exec e = exec();
  dispatch_any(x.dtype(), [&](auto x_zero) {
    dispatch_any(y.dtype(), [&](auto y_zero) {
      using X = decltype(x_zero);
      using Y = decltype(y_zero);
      GM_CUDA_NS::cast<X, Y>(e, static_cast<const X*>(x.raw()), static_cast<Y*>(y.raw()),
                             x.numel());
    });
  });
  launched("cast");
}

void CudaBackend::fill_uniform(Tensor& y, uint64_t seed, uint64_t offset, double low, double high) {
  const Exec e = exec();
  dispatch_floating(y.dtype(), "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::fill_uniform<T>(e, static_cast<T*>(y.raw()), y.numel(), seed, offset, low, high);
  });
  launched("fill_uniform");
}

void CudaBackend::fill_normal(Tensor& y, uint64_t seed, uint64_t offset, double mean,
                              double stddev) {
  const Exec e = exec();
  dispatch_floating(y.dtype(), "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::fill_normal<T>(e, static_cast<T*>(y.raw()), y.numel(), seed, offset, mean, stddev);
  });
  launched("fill_normal");
}

void CudaBackend::strided_copy(const Tensor& src, Tensor& dst, const StridedCopy& box) {
  GM_CUDA_NS::strided_copy(exec(), static_cast<int>(dtype_size(src.dtype())), src.raw(), dst.raw(),
                           box);
  launched("strided_copy");
}

}  // namespace GM_CUDA_NS

// ---- the devices the engine asks for (engine/backend.cpp). Backends are created on first use
// and never destroyed: tensors held by static objects may free memory during exit.

#if GM_CUDA_EMU

CudaBackendBase& cuda_emu_backend() {
  static auto* backend = new cuda_emu::CudaBackend(0, "cuda-emu");
  return *backend;
}

#else

std::string cuda_unavailable_reason(int index) {
  // Asked once: the answer cannot change while the process runs.
  static const auto probe = [] {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    cudaGetLastError();
    return std::make_pair(e, count);
  }();
  const auto [error, count] = probe;
  if (error == cudaErrorInsufficientDriver || error == cudaErrorStubLibrary ||
      error == cudaErrorNoDevice)
    return fmt::format(
        "no usable NVIDIA GPU or driver on this machine (cudaGetDeviceCount: {}, "
        "code {}); cuda-emu runs the same kernels on the CPU",
        cudaGetErrorString(error), static_cast<int>(error));
  if (error != cudaSuccess)
    return fmt::format("the CUDA runtime failed to start: cudaGetDeviceCount returned {} ({})",
                       cudaGetErrorName(error), cudaGetErrorString(error));
  if (index < 0 || index >= count)
    return fmt::format("cuda:{} does not exist: this machine has {} GPU(s)", index, count);
  return "";
}

CudaBackendBase& cuda_backend(int index) {
  static std::mutex mutex;
  static cuda::CudaBackend* backends[64] = {};
  GM_CHECK(index >= 0 && index < 64, "cuda:{}: device index out of range", index);
  std::lock_guard<std::mutex> lock(mutex);
  auto& b = backends[index];
  if (!b) b = new cuda::CudaBackend(index, index == 0 ? "cuda" : fmt::format("cuda:{}", index));
  return *b;
}

#endif

}  // namespace gm

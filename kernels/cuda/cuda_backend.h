#pragma once
// The CUDA backends as the engine sees them (engine/backend.cpp): the emulated one, whose
// kernels run on the CPU (kernels/simt), and the real one. Both are the CudaBackend class of
// kernels/cuda/backend.h, compiled twice; this header is what they share with the outside,
// including the knobs that tests and the kernel lab turn.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/backend.h"
#include "kernels/cuda/counters.h"

namespace gm {

struct AllocatorStats {
  size_t device_allocations = 0;  // cudaMalloc calls so far
  size_t bytes_in_use = 0;        // in blocks handed out (size classes, sentinels included)
  size_t bytes_cached = 0;        // in freed blocks kept for reuse
};

// Which GEMM kernel runs: ours with 64x64 or 32x32 tiles, ours with the tile picked by size
// (`tiled`: 32x32 when either side of C is under 64, so small products don't waste most of a
// big tile), our tensor-core kernel (`tensor`: mma.sync, TF32 unless the precision says BF16),
// or cuBLAS (real GPUs only).
enum class CudaGemm { tiled, tiled64, tiled32, tensor, cublas };

// What the inputs of float32 GEMMs (and so of convolutions, which are GEMMs) are rounded to
// before their products are summed in float32: nothing (fp32), TF32 or BF16. With our kernels a
// reduced precision runs the tensor-core kernel; with cuBLAS it is the compute type
// (CUBLAS_COMPUTE_32F_FAST_TF32 / _16BF). float64 GEMMs are never rounded.
enum class MatmulPrecision { fp32, tf32, bf16 };

// How a convolution's forward that needs columns (every k x k or strided one) runs: im2col into a
// scratch buffer, then the backend's GEMM (cuBLAS on a GPU); or an implicit GEMM, our tiled
// GEMM gathering its tiles from the image (kernels/cuda/conv_implicit_gemm.cuh), which needs no
// buffer. The implicit GEMM computes in the input's precision: under a reduced matmul precision
// or GM_CUDA_GEMM=tensor the forward stays im2col + GEMM.
enum class CudaConvForward { im2col, implicit };

// A graph of a CUDA backend's work (CudaBackendBase::capture): the kernels, copies and
// memsets its capture recorded, with the arguments they had then. It owns the device memory
// that work used (a private pool of the allocator), so tensors allocated during the capture
// keep their addresses and contents between launches. Must not outlive its backend.
class CudaGraph {
 public:
  virtual ~CudaGraph() = default;
  // Queues one replay on the backend's stream: one graph launch, no host wait.
  virtual void launch() = 0;
};

class CudaBackendBase : public Backend {
 public:
  // Threads per block of the 1-D kernels (elementwise, reductions, direct convolutions): a
  // multiple of 32 from 32 to 1024. Initialised from GM_CUDA_BLOCK, default 256.
  void set_block_size(int threads) {
    GM_CHECK(threads >= 32 && threads <= 1024 && threads % 32 == 0,
             "{}: block size {} is invalid: use a multiple of 32 from 32 to 1024", name(), threads);
    block_size_ = threads;
  }
  int block_size() const { return block_size_; }
  // Initialised from GM_CUDA_GEMM (tiled, tiled64, tiled32 or cublas); default cublas on a
  // GPU, tiled on cuda-emu.
  virtual void set_gemm(CudaGemm kernel) = 0;
  virtual CudaGemm gemm_kernel() const = 0;
  // Initialised from GM_CUDA_PRECISION (fp32, tf32 or bf16); default fp32. `genmodel train
  // --precision bf16` sets bf16.
  void set_matmul_precision(MatmulPrecision p) { matmul_precision_ = p; }
  MatmulPrecision matmul_precision() const { return matmul_precision_; }
  // Initialised from GM_CUDA_CONV (im2col or implicit); default im2col.
  void set_conv_forward(CudaConvForward kind) { conv_forward_ = kind; }
  CudaConvForward conv_forward_kind() const { return conv_forward_; }
  // Sentinels around every allocation (kernels/cuda/allocator.h). Initialised from
  // GM_CUDA_DEBUG_ALLOC; always on for cuda-emu unless that says 0.
  virtual void set_debug_allocations(bool on) = 0;
  virtual bool debug_allocations() const = 0;
  virtual AllocatorStats allocator_stats() const = 0;
  // Checks every live allocation's sentinels now; throws on damage.
  virtual void check_allocations() = 0;
  // Synchronises after every launch, so that a kernel that faults is named by the op that
  // launched it (otherwise the fault surfaces at the next synchronising call, ops later).
  // Initialised from GM_CUDA_SYNC_DEBUG=1; for a first run on new hardware, slow otherwise.
  void set_sync_debug(bool on) { sync_debug_ = on; }
  bool sync_debug() const { return sync_debug_; }
  // At most this many bytes of im2col columns per convolution call: the batch is cut into
  // chunks of whole images that fit (at least one image each). The default, 64 MiB, holds a
  // whole batch of every reference configuration, so a convolution's launches do not depend on
  // the batch; tests set a tiny budget to run the chunk loop, which must change no result.
  void set_conv_column_bytes(int64_t bytes) {
    GM_CHECK(bytes >= 1, "{}: the convolution column budget must be at least 1 byte, got {}",
             name(), bytes);
    conv_column_bytes_ = bytes;
  }
  int64_t conv_column_bytes() const { return conv_column_bytes_; }
  // What this backend asked of the runtime since it was created (kernels/cuda/counters.h);
  // subtract two snapshots for the counts of a step.
  virtual CudaCounters counters() const = 0;
  // CUDA Graphs: runs `work` (host code that issues work to this backend) with the stream
  // capturing, so its kernels, copies and memsets are recorded, not run, and returns the
  // graph. Anything in `work` that would wait for the device (reading a value back, an upload
  // from pageable memory, a synchronize) is an error naming the call, and nothing is captured.
  virtual std::unique_ptr<CudaGraph> capture(const std::function<void()>& work) = 0;
  virtual bool capturing() const = 0;

 protected:
  int block_size_ = 256;
  bool sync_debug_ = false;
  int64_t conv_column_bytes_ = int64_t{64} << 20;
  MatmulPrecision matmul_precision_ = MatmulPrecision::fp32;
  CudaConvForward conv_forward_ = CudaConvForward::im2col;
};

// The emulated device, always built.
CudaBackendBase& cuda_emu_backend();
// Real GPUs (GENMODEL_HAVE_CUDA builds only): the backend of GPU `index`, and why it cannot be
// used ("" when it can: the driver loads and the GPU exists).
CudaBackendBase& cuda_backend(int index);
std::string cuda_unavailable_reason(int index);

// The counters of `device`'s backend; nullopt for a device that is not CUDA (the cpu).
inline std::optional<CudaCounters> cuda_counters(Device device) {
  auto* cuda = dynamic_cast<CudaBackendBase*>(&backend_for(device));
  if (!cuda) return std::nullopt;
  return cuda->counters();
}

// One line for a step's counts (a difference of two snapshots), for --profile and benchmarks.
inline std::string describe_counters(const CudaCounters& c) {
  return fmt::format(
      "{} kernel launches, {} host syncs, {} B host-to-device, {} B device-to-host, allocator "
      "{} hits / {} misses, {} graph launches",
      c.kernel_launches, c.host_syncs, c.h2d_bytes, c.d2h_bytes, c.allocator_hits,
      c.allocator_misses, c.graph_launches);
}

}  // namespace gm

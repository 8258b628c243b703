#pragma once
// The CUDA kernel language for g++: include this instead of the CUDA headers and a kernel
// written in the supported subset compiles as ordinary C++ and runs on the executor
// (executor.h). Everything lives in gm::simt; code written for CUDA sees it through a
// using-directive (kernels/cuda/platform.h does that).
//
// Supported: __global__/__device__/__host__, __shared__ (static, per block), dynamic shared
// memory (GM_DYNAMIC_SHARED in platform.h), threadIdx/blockIdx/blockDim/gridDim/warpSize,
// __syncthreads, __syncwarp, __shfl_sync/_up/_down/_xor (32-bit and 64-bit values),
// atomicAdd/atomicMax/atomicMin/atomicCAS/atomicExch, the mma.sync shapes of mma.h, __threadfence,
// the float math of the C library plus CUDA's rsqrt/__expf/__logf/__fdividef/__ldg, and launch
// through GM_LAUNCH.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/simt/executor.h"
#include "kernels/simt/mma.h"
#include "kernels/simt/runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// All fibers of a block run on one OS thread and an OS thread runs one block at a time, so a
// thread_local static is exactly one copy per running block.
#define __shared__ static thread_local

namespace gm::simt {

// ---- barriers. The default argument records the call site, so divergence reports name lines.
inline void __syncthreads(std::source_location where = std::source_location::current()) {
  block_barrier(where);
}
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location where = std::source_location::current()) {
  warp_exchange(mask, 0, lane_id(), where);
}

// ---- warp shuffles: every lane named in `mask` must make the same call. `width` splits the
// warp into independent segments of that many lanes, as in CUDA.
namespace detail {
template <typename T>
T shuffle(unsigned mask, T value, int source_lane, std::source_location where) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles move values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_exchange(mask, bits, source_lane, where);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}
}  // namespace detail

template <typename T>
T __shfl_sync(unsigned mask, T value, int src_lane, int width = warpSize,
              std::source_location where = std::source_location::current()) {
  const int lane = lane_id();
  const int segment = lane / width * width;
  return detail::shuffle(mask, value, segment + (src_lane % width + width) % width, where);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize,
                   std::source_location where = std::source_location::current()) {
  const int lane = lane_id();
  const int source = lane + static_cast<int>(delta);
  const bool inside = source / width == lane / width && source < warpSize;
  return detail::shuffle(mask, value, inside ? source : lane, where);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize,
                 std::source_location where = std::source_location::current()) {
  const int lane = lane_id();
  const int source = lane - static_cast<int>(delta);
  const bool inside = source >= lane / width * width;
  return detail::shuffle(mask, value, inside ? source : lane, where);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize,
                  std::source_location where = std::source_location::current()) {
  const int lane = lane_id();
  const int source = lane ^ lane_mask;
  // CUDA: a lane may read earlier segments but gets its own value from later ones.
  const bool inside = source < (lane / width + 1) * width && source < warpSize;
  return detail::shuffle(mask, value, inside ? source : lane, where);
}

// ---- atomics. Blocks run concurrently on several OS threads, so these are real atomics; the
// fibers of one block never interleave inside one.
template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}
template <typename T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value);
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
  return compare;  // the old value, whether or not the swap happened
}
template <typename T>
T atomicMax(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T old = a.load();
  while (old < value && !a.compare_exchange_weak(old, value)) {
  }
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T old = a.load();
  while (value < old && !a.compare_exchange_weak(old, value)) {
  }
  return old;
}
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// ---- math that CUDA has and the C library lacks
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline double rsqrt(double x) {
  return 1.0 / std::sqrt(x);
}
inline float __expf(float x) {
  return std::exp(x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __fdividef(float a, float b) {
  return a / b;
}
template <typename T>
T __ldg(const T* p) {
  return *p;
}

// ---- kernel launch: GM_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...)
template <typename... Params>
class Launch {
 public:
  Launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
         cudaStream_t stream, const KernelResources* resources)
      : kernel_(kernel), config_{name, grid, block, shared_bytes, resources}, stream_(stream) {}

  template <typename... Args>
  void operator()(Args&&... args) const {
    // The parameters are converted once, like CUDA's parameter buffer; each thread then gets its
    // own copy because the kernel takes them by value. Launches run to completion in issue
    // order, unless the stream is capturing: then the launch, its parameters included, is
    // recorded as a node of the graph and runs at each replay.
    struct Packed {
      void (*kernel)(Params...);
      std::tuple<std::decay_t<Params>...> params;
    };
    std::function<void()> run = [config = config_,
                                 packed = Packed{kernel_, {std::forward<Args>(args)...}}] {
      launch(
          config,
          [](const void* p) {
            const Packed& k = *static_cast<const Packed*>(p);
            std::apply(k.kernel, k.params);
          },
          &packed);
    };
    if (!record_if_capturing(stream_, run)) run();
  }

 private:
  void (*kernel_)(Params...);
  LaunchConfig config_;
  cudaStream_t stream_;
};

// `resources`: the kernel's entry of the resource table (kernel_resources<kernel>(), which the
// library's GM_LAUNCH in kernels/cuda/platform.h passes), or nullptr for CUDA's fixed limits only.
template <typename... Params>
Launch<Params...> make_launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                              size_t shared_bytes, cudaStream_t stream,
                              const KernelResources* resources = nullptr) {
  return Launch<Params...>(name, kernel, grid, block, shared_bytes, stream, resources);
}

}  // namespace gm::simt

// The two spellings that differ between nvcc and the executor (kernels/cuda/platform.h has the
// nvcc side): launching, and the launch's dynamic shared memory as a `T*`.
#define GM_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  ::gm::simt::make_launch(#kernel, kernel, grid, block, shared_bytes, stream)
#define GM_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::gm::simt::dynamic_shared_memory())

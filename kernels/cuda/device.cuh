#pragma once
// Device-side helpers shared by the kernel files: grid-stride indexing and block reductions.
#include <cstdint>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

// The first index of this thread in a 1-D grid-stride loop, and the loop's stride.
__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// Threads per block for a grid-stride launch of Kernel over n elements: threads_for, clamped to
// what the compiled kernel can launch with. Registers bound a block: a kernel of 66 registers
// cannot start 1024 threads (67,584 registers, more than an SM has; the launch fails with "too
// many resources requested"), so GM_CUDA_BLOCK=1024 would break it. The limit is asked once per
// kernel (cudaFuncGetAttributes) and kept in a function-local constant. Grid-stride loops are
// correct for any block size, so a smaller block changes nothing but speed. The emulator answers
// with ptxas's registers and refuses the same launches (kernels/simt/kernel_resources.h).
template <auto Kernel>
unsigned kernel_threads(int64_t n, int block) {
  static const int limit = [] {
    cudaFuncAttributes attributes{};
    if (kernel_attributes<Kernel>(&attributes) != cudaSuccess) {
      (void)cudaGetLastError();  // not the launch's error: the launch itself will tell
      return 1024;
    }
    return attributes.maxThreadsPerBlock / 32 * 32;
  }();
  return threads_for(n, block < limit ? block : limit);
}

// Sum over the 32 lanes of a warp; the total ends up in lane 0.
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(offset));
  return v;
}

// Sum over a 1-D block whose size is a multiple of 32; the total is valid in thread 0. Every
// thread of the block must call it (it contains barriers).
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[32];  // one slot per warp
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[lane] : T(0);
  if (warp == 0) v = warp_sum(v);
  __syncthreads();  // partial[] may be reused by the caller's next block_sum
  return v;
}

}  // namespace gm::GM_CUDA_NS

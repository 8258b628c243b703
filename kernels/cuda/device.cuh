#pragma once
// Device-side helpers shared by the kernel files: grid-stride indexing and block reductions.
#include <cstdint>

#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

// The first index of this thread in a 1-D grid-stride loop, and the loop's stride.
__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
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

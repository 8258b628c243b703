#pragma once
// The lab's one-source-two-compilers switch, the library's own (kernels/cuda/platform.h), because
// each lab kernel's last version IS the library's kernel, included from kernels/cuda:
// - nvcc: the CUDA runtime and language as they are; the library's kernels are in gm::cuda;
// - g++: the CUDA subset of kernels/simt, where every CUDA thread runs as a fiber on the CPU;
//   the library's kernels are the emulated backend's, in gm::cuda_emu (GM_CUDA_EMU=1).
// Lab kernels live in namespace gm::lab and see whichever runtime through this header. The
// launch spelling is GM_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...) in both
// (wrap a template kernel in parentheses).
// GM_LAB_HAVE_CUDNN (set by CMake when libcudnn is found) adds cuDNN beside the masked conv.
#ifndef GM_LAB_HAVE_CUDNN
#define GM_LAB_HAVE_CUDNN 0
#endif
#ifndef GM_CUDA_EMU
#if defined(__CUDACC__)
#define GM_CUDA_EMU 0
#else
#define GM_CUDA_EMU 1
#endif
#endif
#include "kernels/cuda/platform.h"

#if GM_CUDA_EMU
#define GM_LAB_REAL_GPU 0
namespace gm::lab {
using namespace ::gm::simt;
}
#else
#define GM_LAB_REAL_GPU 1
namespace gm::lab {}
#endif
#define GM_LAB_UNROLL GM_UNROLL

#include <stdexcept>

namespace gm::lab {

// Device scratch that versions keep between calls, grown before timing starts (the driver
// validates every configuration first), so no timed call allocates.
template <typename T>
struct DeviceScratch {
  T* p = nullptr;
  size_t capacity = 0;
  T* at_least(size_t needed) {
    if (needed > capacity) {
      cudaFree(p);
      p = nullptr;
      capacity = 0;
      if (cudaMalloc(&p, needed * sizeof(T)) != cudaSuccess)
        throw std::runtime_error("kernel lab: cudaMalloc of a version's scratch failed");
      capacity = needed;
    }
    return p;
  }
};

}  // namespace gm::lab

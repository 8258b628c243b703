#pragma once
// The lab's one-source-two-compilers switch, kept self-contained so the lab builds on its own:
// - nvcc: the CUDA runtime and language as they are;
// - g++: the CUDA subset of kernels/simt, where every CUDA thread runs as a fiber on the CPU.
// Lab kernels live in namespace gm::lab and see whichever runtime through this header. The
// launch spelling is GM_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...) in both
// (wrap a template kernel in parentheses), as in kernels/cuda/platform.h.
// GM_LAB_HAVE_CUDNN (set by CMake when libcudnn is found) adds cuDNN beside the masked conv.
#ifndef GM_LAB_HAVE_CUDNN
#define GM_LAB_HAVE_CUDNN 0
#endif
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define GM_LAB_REAL_GPU 1
#ifndef GM_LAUNCH
#define GM_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  kernel<<<grid, block, shared_bytes, stream>>>
#endif
#define GM_LAB_UNROLL _Pragma("unroll")
namespace gm::lab {}
#else
#include "kernels/simt/simt.h"
#define GM_LAB_REAL_GPU 0
#define GM_LAB_UNROLL
namespace gm::lab {
using namespace ::gm::simt;
}
#endif

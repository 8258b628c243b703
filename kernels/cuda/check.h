#pragma once
// GM_CUDA_CHECK(call): throws a gm::Error naming the failing runtime call, file and line, with
// CUDA's name and description of the error. Host code only.
#include "engine/error.h"
#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

inline void check_cuda(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaSuccess) return;
  cudaGetLastError();  // clear it, so the next check reports its own error
  throw Error(fmt::format("CUDA call {} failed at {}:{}: {} ({})", call, file, line,
                          cudaGetErrorString(error), cudaGetErrorName(error)));
}

}  // namespace gm::GM_CUDA_NS

#define GM_CUDA_CHECK(call) ::gm::GM_CUDA_NS::check_cuda((call), #call, __FILE__, __LINE__)

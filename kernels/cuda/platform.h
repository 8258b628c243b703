#pragma once
// One kernel source, two compilers. Every file of kernels/cuda includes this first.
//
// - nvcc (the real CUDA backend): the CUDA runtime and language as they are; everything is in
//   namespace gm::cuda.
// - g++ with GM_CUDA_EMU=1 (the emulated backend, "cuda-emu"): the kernel language and runtime
//   subset of kernels/simt; everything is in namespace gm::cuda_emu, which sees gm::simt.
// Both builds can be linked into one binary because their symbols live in different namespaces.
//
// The few spellings that differ are macros: GM_LAUNCH(kernel, grid, block, shared_bytes,
// stream)(args...) for a launch (wrap a template kernel in parentheses), GM_DYNAMIC_SHARED(T,
// name) for the launch's dynamic shared memory, GM_UNROLL before a loop to unroll.
#include <cstdint>

#ifndef GM_CUDA_EMU
#define GM_CUDA_EMU 0
#endif

#if GM_CUDA_EMU
#include "kernels/simt/simt.h"
#define GM_CUDA_NS cuda_emu
namespace gm::cuda_emu {
using namespace ::gm::simt;
}
#undef GM_LAUNCH
// The launch carries the kernel's resources (kernels/simt/kernel_resources.h), so the executor
// refuses what a GPU would refuse for lack of registers or shared memory.
#define GM_LAUNCH(kernel, grid, block, shared_bytes, stream)          \
  ::gm::simt::make_launch(#kernel, kernel, grid, block, shared_bytes, \
                          ::gm::GM_CUDA_NS::counted_stream(stream),   \
                          ::gm::simt::kernel_resources<kernel>())
#define GM_UNROLL
#else
#include <cuda_runtime.h>
#define GM_CUDA_NS cuda
#define GM_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  kernel<<<grid, block, shared_bytes, ::gm::GM_CUDA_NS::counted_stream(stream)>>>
#define GM_DYNAMIC_SHARED(T, name)                                    \
  extern __shared__ __align__(16) unsigned char gm_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(gm_dynamic_shared_)
#define GM_UNROLL _Pragma("unroll")
#endif

namespace gm::GM_CUDA_NS {
// cudaFuncGetAttributes(&attributes, Kernel): on the emulator the kernel is a template argument
// and the numbers are ptxas's (kernels/simt/kernel_resources.inc).
template <auto Kernel>
cudaError_t kernel_attributes(cudaFuncAttributes* attributes) {
#if GM_CUDA_EMU
  return ::gm::simt::cudaFuncGetAttributes<Kernel>(attributes);
#else
  return cudaFuncGetAttributes(attributes, Kernel);
#endif
}

// The stream of a launch, counting the launch on the backend's counters when the stream carries
// them (launch.h's ExecStream); a bare stream (the kernel lab, tests) passes through uncounted.
template <typename S>
auto counted_stream(const S& s) {
  if constexpr (requires { s.counters->launch(); }) {
    if (s.counters) s.counters->launch();
    return s.stream;
  } else {
    return s;
  }
}
}  // namespace gm::GM_CUDA_NS

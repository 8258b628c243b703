#pragma once
// GM_HD marks inline math that every backend shares: compiled for the host by g++ and for the
// device by nvcc. The CPU executor of the CUDA kernels (cuda-emu) also compiles it as host code.
#if defined(__CUDACC__)
#define GM_HD __host__ __device__ __forceinline__
#else
#define GM_HD inline
#endif

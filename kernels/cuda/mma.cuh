#pragma once
// The tensor-core instructions, one spelling for both compilers: D = A B + C per warp with
// FP32 accumulators, A row-major and B column-major fragments (mma.sync.aligned.*.row.col).
// Under nvcc these are the PTX instructions (sm_80 and later); on the emulator they are
// kernels/simt/mma.{h,cpp}, which documents the fragment layouts and the arithmetic. Every lane
// of the warp must make the same call with converged control flow (.aligned).
//
// Inputs are rounded by the caller with kernels/common/reduced_float.h (round_tf32,
// pack_bf16x2), to nearest, ties to even, the same bits on both devices.
#include <cstdint>

#include "kernels/common/reduced_float.h"
#include "kernels/cuda/platform.h"

namespace gm::GM_CUDA_NS {

// m16n8k8, A and B in TF32 (float32 registers whose low 13 bits are zero).
__device__ __forceinline__ void mma_tf32_m16n8k8(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2], const float (&c)[4]) {
#if GM_CUDA_EMU
  ::gm::simt::mma_m16n8k8_tf32(d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

// m16n8k16, A and B in BF16, two per register (pack_bf16x2: the lower index in bits 0-15).
__device__ __forceinline__ void mma_bf16_m16n8k16(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2], const float (&c)[4]) {
#if GM_CUDA_EMU
  ::gm::simt::mma_m16n8k16_bf16(d, a, b, c);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
#endif
}

}  // namespace gm::GM_CUDA_NS

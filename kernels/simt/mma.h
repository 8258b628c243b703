#pragma once
// The warp-level matrix instructions our kernels use (PTX mma.sync.aligned, row.col, FP32
// accumulators), emulated: every lane hands in its fragments, the warp's fragments are gathered
// (warp_gather), and each lane computes its own four outputs. The fragment layouts are PTX's
// for these shapes; with g = lane / 4 and t = lane % 4 (the layout table is in docs/cuda.md):
//
//   m16n8k8 .tf32: A 16x8 (4 registers)  a0 (g, t)  a1 (g+8, t)  a2 (g, t+4)  a3 (g+8, t+4)
//                  B 8x8  (2 registers)  b0 (k=t, n=g)  b1 (k=t+4, n=g)
//   m16n8k16 .bf16: registers hold two BF16, the lower index in the lower half:
//                  A 16x16 a0 (g, 2t..2t+1)  a1 (g+8, 2t..)  a2 (g, 2t+8..)  a3 (g+8, 2t+8..)
//                  B 16x8  b0 (k=2t..2t+1, n=g)  b1 (k=2t+8..2t+9, n=g)
//   both: C, D 16x8 (4 floats)  c0 (g, 2t)  c1 (g, 2t+1)  c2 (g+8, 2t)  c3 (g+8, 2t+1)
//
// Arithmetic: a product of two TF32 (11-bit significands) or two BF16 (8-bit) values is exact
// in float32, so only the sums round. PTX does not specify the order or the rounding of the
// tensor core's internal sums; the emulation adds the products to c in k order, each sum
// rounded to nearest float32. TF32 operands must already be TF32 (low 13 bits zero:
// round_tf32 in kernels/common/reduced_float.h); anything else is an error here, because the
// hardware's treatment of the extra bits is not specified either.
#include <cstdint>
#include <source_location>

namespace gm::simt {

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                      const float (&c)[4],
                      std::source_location where = std::source_location::current());
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                       const float (&c)[4],
                       std::source_location where = std::source_location::current());

}  // namespace gm::simt

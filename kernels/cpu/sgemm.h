#pragma once
// genmodel's own single-precision GEMM: a register-blocked micro-kernel (6 x 16 with AVX2 + FMA,
// chosen at run time, so one binary runs on any x86-64; a portable scalar kernel otherwise), with
// an optional epilogue applied while C is still in registers. The shapes it is for (a
// convolution's per-image GEMMs: one side of a few dozen to a few hundred, the other 784) are
// too small for full panel packing to pay: the kernel reads A and a non-transposed B in place
// and copies only a transposed B (8 x 8 vector transposes) and the zero-padded edge strips.
//
// Every element of C goes through exactly the same sequence of operations wherever it lies:
// edge tiles are padded with zeros and run the same micro-kernel, and the inner dimension is cut
// into blocks of a fixed size (kSgemmKc). So the result depends on (m, n, k) and the data only,
// never on how callers split C among threads (kernels/cpu/blas.h).
//
// Rounding: the micro-kernels use fused multiply-adds (the scalar one does not), so results
// differ from OpenBLAS's in the last bits, within the usual K * eps bound.
#include <cstdint>

namespace gm::cpu {

// Applied to each element v of C after the last block of the inner dimension, in this order:
// v += row_bias[i]; v += residual[i * ldr + j]; v = max(v, 0) if relu.
struct GemmEpilogue {
  const float* row_bias = nullptr;
  const float* residual = nullptr;
  int64_t ldr = 0;
  bool relu = false;
  bool any() const { return row_bias != nullptr || residual != nullptr || relu; }
};

// The inner-dimension block: fixed, so that rounding never depends on the caller.
inline constexpr int64_t kSgemmKc = 256;

// The micro-kernel: the best this machine runs, or the portable one (so tests cover it on
// machines that never pick it).
enum class SgemmKernel { best, scalar };

// Row-major C = epilogue(alpha op(A) op(B) + beta C); with beta == 0, C is not read.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue& epilogue = {}, SgemmKernel kernel = SgemmKernel::best);

// Which micro-kernel sgemm runs on this machine: "avx2-fma 6x16" or "scalar 6x16".
const char* sgemm_kernel_name();

}  // namespace gm::cpu

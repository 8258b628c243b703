#pragma once
// Row-major C = alpha op(A) op(B) + beta C (leading dimensions explicit), with a result that
// does not depend on the number of OpenMP threads. Single precision runs genmodel's own GEMM
// (kernels/cpu/sgemm.h) unless the environment sets GM_CPU_GEMM=openblas, which selects OpenBLAS
// as the reference; double precision always runs OpenBLAS.
//
// OpenBLAS splits a GEMM called outside a parallel region among the threads it is given, and
// the rows and columns at the edge of each thread's share go through narrower kernels that
// round differently: 1 and 2 threads give results that differ in the last bits (vae-ref's
// weights differed by 2e-5 after 20 steps). Here the split is ours and fixed: C is cut into
// tiles that depend only on (m, n, k), each tile is one single-threaded OpenBLAS call (inside
// an active parallel region OpenBLAS's OpenMP build runs on the calling thread), and the
// threads share the tiles. Calls made inside a parallel region (a conv's per-image GEMMs, where
// OpenBLAS runs on the calling thread) and GEMMs too small for OpenBLAS to thread go straight to
// OpenBLAS. (genmodel's own GEMM gives the same result however C is cut; the fixed tiles are
// kept for both.)
#include <cstdint>

#include "kernels/cpu/sgemm.h"

namespace gm::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          const GemmEpilogue& epilogue = {});
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

// True when GM_CPU_GEMM=openblas selects OpenBLAS for single precision (read once).
bool sgemm_is_openblas();

}  // namespace gm::cpu

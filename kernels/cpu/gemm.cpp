#include <cblas.h>

#include "kernels/cpu/cpu_backend.h"

namespace gm {

void CpuBackend::gemm(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) {
  const auto ta = g.trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = g.trans_b ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(g.m), n = static_cast<blasint>(g.n),
             k = static_cast<blasint>(g.k);
  const blasint lda = g.trans_a ? m : k, ldb = g.trans_b ? k : n, ldc = n;
  for (int64_t i = 0; i < g.batch; ++i) {
    if (c.dtype() == DType::f32) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, static_cast<float>(g.alpha),
                  static_cast<const float*>(a.raw()) + i * g.stride_a, lda,
                  static_cast<const float*>(b.raw()) + i * g.stride_b, ldb,
                  static_cast<float>(g.beta), static_cast<float*>(c.raw()) + i * g.stride_c, ldc);
    } else if (c.dtype() == DType::f64) {
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, g.alpha,
                  static_cast<const double*>(a.raw()) + i * g.stride_a, lda,
                  static_cast<const double*>(b.raw()) + i * g.stride_b, ldb, g.beta,
                  static_cast<double*>(c.raw()) + i * g.stride_c, ldc);
    } else {
      fail("gemm: expected float32 or float64 tensors, got {}", c.describe());
    }
  }
}

}  // namespace gm

#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

void CpuBackend::gemm(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) {
  const int64_t lda = g.trans_a ? g.m : g.k, ldb = g.trans_b ? g.k : g.n, ldc = g.n;
  for (int64_t i = 0; i < g.batch; ++i) {
    if (c.dtype() == DType::f32) {
      cpu::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, static_cast<float>(g.alpha),
                static_cast<const float*>(a.raw()) + i * g.stride_a, lda,
                static_cast<const float*>(b.raw()) + i * g.stride_b, ldb,
                static_cast<float>(g.beta), static_cast<float*>(c.raw()) + i * g.stride_c, ldc);
    } else if (c.dtype() == DType::f64) {
      cpu::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha,
                static_cast<const double*>(a.raw()) + i * g.stride_a, lda,
                static_cast<const double*>(b.raw()) + i * g.stride_b, ldb, g.beta,
                static_cast<double*>(c.raw()) + i * g.stride_c, ldc);
    } else {
      fail("gemm: expected float32 or float64 tensors, got {}", c.describe());
    }
  }
}

}  // namespace gm

// CudaBackend: elementwise ops, reductions and GEMM (convolutions: backend_conv.cpp).
#include <algorithm>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/check.h"

#if !GM_CUDA_EMU
#include <cublas_v2.h>
#endif

namespace gm::GM_CUDA_NS {

void CudaBackend::unary(UnaryOp op, const UnaryParams& p, const Tensor& x, Tensor& y) {
  const Exec e = exec();
  dispatch_floating(x.dtype(), "unary", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::unary<T>(e, op, static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), x.numel(),
                         static_cast<T>(p.alpha), static_cast<T>(p.scale), static_cast<T>(p.shift));
  });
  launched("unary");
}

void CudaBackend::unary_backward(UnaryOp op, const UnaryParams& p, const Tensor& x, const Tensor& y,
                                 const Tensor& dy, Tensor& dx) {
  const Exec e = exec();
  dispatch_floating(x.dtype(), "unary_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::unary_backward<T>(e, op, static_cast<const T*>(x.raw()),
                                  static_cast<const T*>(y.raw()), static_cast<const T*>(dy.raw()),
                                  static_cast<T*>(dx.raw()), x.numel(), static_cast<T>(p.alpha),
                                  static_cast<T>(p.scale));
  });
  launched("unary_backward");
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& y) {
  // Same shapes: a flat loop. Otherwise element strides with 0 along broadcast dimensions.
  Broadcast bc;
  if (a.shape() != y.shape() || b.shape() != y.shape()) {
    bc.ndim = y.ndim();
    int64_t stride_a = 1, stride_b = 1;
    for (int d = y.ndim() - 1; d >= 0; --d) {
      const size_t k = static_cast<size_t>(d);
      bc.shape[d] = y.shape()[k];
      bc.a_stride[d] = a.shape()[k] == 1 ? 0 : stride_a;
      bc.b_stride[d] = b.shape()[k] == 1 ? 0 : stride_b;
      stride_a *= a.shape()[k];
      stride_b *= b.shape()[k];
    }
  }
  const Exec e = exec();
  dispatch_floating(y.dtype(), "binary", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::binary<T>(e, op, static_cast<const T*>(a.raw()), static_cast<const T*>(b.raw()),
                          static_cast<T*>(y.raw()), y.numel(), bc);
  });
  launched("binary");
}

void CudaBackend::sum_axis(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) {
  const Exec e = exec();
  dispatch_floating(x.dtype(), "sum_axis", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::sum_axis<T>(e, static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), outer, n,
                            inner);
  });
  launched("sum_axis");
}

void CudaBackend::sum_per_channel(const Tensor& x, Tensor& y) {
  const int64_t channels = x.size(1), outer = x.size(0);
  const int64_t inner = channels == 0 || outer == 0 ? 0 : x.numel() / (outer * channels);
  const Exec e = exec();
  dispatch_floating(x.dtype(), "sum_per_channel", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::sum_per_channel<T>(e, static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()),
                                   outer, channels, inner);
  });
  launched("sum_per_channel");
}

void CudaBackend::axpy(double alpha, const Tensor& x, Tensor& y) {
  const Exec e = exec();
  dispatch_floating(x.dtype(), "axpy", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::axpy<T>(e, static_cast<T>(alpha), static_cast<const T*>(x.raw()),
                        static_cast<T*>(y.raw()), x.numel());
  });
  launched("axpy");
}

void CudaBackend::gemm(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) {
  gemm_pointers(g, c.dtype(), a.raw(), b.raw(), c.raw());
}

bool CudaBackend::tensor_core_gemm(DType dtype) const {
  return dtype == DType::f32 &&
         (gemm_ == CudaGemm::tensor || matmul_precision_ != MatmulPrecision::fp32);
}

bool CudaBackend::gemm_fuses(DType dtype) const {
  return gemm_ != CudaGemm::cublas && !tensor_core_gemm(dtype);
}

void CudaBackend::gemm_pointers(const Gemm& g, DType dtype, const void* a, const void* b, void* c,
                                const char* what, const GemmFusion& f) {
  GM_CHECK(!g.sum_batch || (g.alpha == 1.0 && (g.beta == 0.0 || g.beta == 1.0)),
           "{}: a batch-summed GEMM takes alpha 1 and beta 0 or 1, got {} and {}", what, g.alpha,
           g.beta);
  // Bugs of a caller, not user errors: the fusion's parts must fit the GEMM that runs.
  GM_CHECK(!f.any() || gemm_fuses(dtype), "{}: only the tiled GEMM fuses (gemm_fuses)", what);
  GM_CHECK(!(f.row_sums || f.row_sums_carry) || g.sum_batch,
           "{}: row sums of A need a batch-summed GEMM", what);
  GM_CHECK(!f.bias || (g.beta == 0.0 && !g.sum_batch),
           "{}: a fused bias is where C starts: beta 0, no batch sum", what);
  GM_CHECK(!g.sum_batch || (f.a_taps == 0 && !f.relu_grad_of && !f.residual),
           "{}: a batch-summed GEMM fuses relu(B) and row sums only", what);
  const bool tensor_cores = tensor_core_gemm(dtype);
  if (g.sum_batch && (gemm_ == CudaGemm::cublas || tensor_cores)) {
    // Only our tiled kernel sums the batch inside the GEMM: the others write one product per
    // entry, summed over the batch afterwards in double (one launch more).
    // A continued sum (beta 1) adds this call's sum to C (one launch more again).
    Gemm each = g;
    each.sum_batch = false;
    each.beta = 0.0;
    each.stride_c = g.m * g.n;
    const Exec e = exec();
    dispatch_floating(dtype, what, [&](auto zero) {
      using T = decltype(zero);
      const int64_t size = g.m * g.n;
      Scratch partial(allocator_,
                      sizeof(T) * static_cast<size_t>(std::max<int64_t>(g.batch * size, 1)));
      Scratch summed(allocator_, sizeof(T) * static_cast<size_t>(std::max<int64_t>(size, 1)));
      gemm_pointers(each, dtype, a, b, partial.as<T>(), what);
      T* total = g.beta == 0.0 ? static_cast<T*>(c) : summed.as<T>();
      GM_CUDA_NS::sum_axis<T>(e, partial.as<T>(), total, 1, g.batch, size);
      launched(what);
      if (g.beta != 0.0) {
        GM_CUDA_NS::axpy<T>(e, T(1), total, static_cast<T*>(c), size);
        launched(what);
      }
    });
    return;
  }
  if (gemm_ == CudaGemm::cublas) {
    gemm_vendor(g, dtype, a, b, c);
    launched(what);
    return;
  }
  // The tensor cores take float32 inputs only: float64 products (gradient checks) always run
  // the tiled kernel, unrounded.
  if (tensor_cores) {
    const Exec e = exec();
    const auto* af = static_cast<const float*>(a);
    const auto* bf = static_cast<const float*>(b);
    auto* cf = static_cast<float*>(c);
    const auto alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    if (matmul_precision_ == MatmulPrecision::bf16)
      GM_CUDA_NS::gemm_mma<MmaInput::bf16>(e, g, alpha, af, bf, beta, cf);
    else
      GM_CUDA_NS::gemm_mma<MmaInput::tf32>(e, g, alpha, af, bf, beta, cf);
    launched(what);
    return;
  }
  const GemmTile tile = gemm_ == CudaGemm::tiled64   ? GemmTile::t64
                        : gemm_ == CudaGemm::tiled32 ? GemmTile::t32
                                                     : default_gemm_tile(g.m, g.n);
  const Exec e = exec();
  dispatch_floating(dtype, "gemm", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::gemm<T>(e, tile, g, static_cast<T>(g.alpha), static_cast<const T*>(a),
                        static_cast<const T*>(b), static_cast<T>(g.beta), static_cast<T*>(c), f);
  });
  launched(what);
}

#if GM_CUDA_EMU
void CudaBackend::gemm_vendor(const Gemm&, DType, const void*, const void*, void*) {
  fail("{}: cuBLAS is not available on the emulated device", name_);
}
#else
namespace {
void check_blas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    fail("cuBLAS call {} failed: {}", call, cublasGetStatusString(status));
}
}  // namespace

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets the operands
// swapped, and no data moves.
void CudaBackend::gemm_vendor(const Gemm& g, DType dtype, const void* a, const void* b, void* c) {
  exec();
  if (!blas_) {
    // Created outside any capture: its workspace must not come from a capture's private pool.
    refuse_while_capturing("creating the cuBLAS handle (run one eager step first)");
    cublasHandle_t handle = nullptr;
    check_blas(cublasCreate(&handle), "cublasCreate");
    blas_ = handle;
    // The stream is set once, before the workspace: cublasSetStream resets the handle to
    // cuBLAS's own workspace pool, which cuBLAS fills with cudaMalloc on first use, a call a
    // CUDA Graph capture cannot record. A fixed workspace from our allocator, kept as long as
    // the handle, is what every GEMM, captured or not, works in (cuBLAS recommends 32 MiB on
    // Hopper and later, 4 MiB before).
    check_blas(cublasSetStream(handle, stream_), "cublasSetStream");
    int major = 0;
    GM_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_));
    blas_workspace_bytes_ = (major >= 9 ? size_t{32} : size_t{4}) << 20;
    blas_workspace_ = allocator_.allocate(blas_workspace_bytes_);
    check_blas(cublasSetWorkspace(handle, blas_workspace_, blas_workspace_bytes_),
               "cublasSetWorkspace");
  }
  auto handle = static_cast<cublasHandle_t>(blas_);
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  // cuBLAS takes sizes and the batch count as int: a silent narrowing would compute a
  // different (smaller) product. Strides are long long and need no check.
  constexpr int64_t kIntMax = 2147483647;
  GM_CHECK(g.m <= kIntMax && g.n <= kIntMax && g.k <= kIntMax && g.batch <= kIntMax,
           "{}: GEMM of {} x {} x {} (batch {}) exceeds cuBLAS's int sizes; split it or use "
           "GM_CUDA_GEMM=tiled",
           name_, g.m, g.n, g.k, g.batch);
  counters_.launch();  // cuBLAS may launch more than one kernel; it is counted as one
  const auto op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
  const int lda = g.trans_a ? m : k, ldb = g.trans_b ? k : n;
  const int batch = static_cast<int>(g.batch);
  if (dtype == DType::f32 && matmul_precision_ != MatmulPrecision::fp32) {
    // cuBLAS rounds the float32 inputs itself and accumulates in float32.
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    const cublasComputeType_t compute = matmul_precision_ == MatmulPrecision::bf16
                                            ? CUBLAS_COMPUTE_32F_FAST_16BF
                                            : CUBLAS_COMPUTE_32F_FAST_TF32;
    check_blas(
        cublasGemmStridedBatchedEx(handle, op_b, op_a, n, m, k, &alpha, b, CUDA_R_32F, ldb,
                                   g.stride_b, a, CUDA_R_32F, lda, g.stride_a, &beta, c, CUDA_R_32F,
                                   n, g.stride_c, batch, compute, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
  } else if (dtype == DType::f32) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    check_blas(
        cublasSgemmStridedBatched(handle, op_b, op_a, n, m, k, &alpha, static_cast<const float*>(b),
                                  ldb, g.stride_b, static_cast<const float*>(a), lda, g.stride_a,
                                  &beta, static_cast<float*>(c), n, g.stride_c, batch),
        "cublasSgemmStridedBatched");
  } else {
    check_blas(cublasDgemmStridedBatched(handle, op_b, op_a, n, m, k, &g.alpha,
                                         static_cast<const double*>(b), ldb, g.stride_b,
                                         static_cast<const double*>(a), lda, g.stride_a, &g.beta,
                                         static_cast<double*>(c), n, g.stride_c, batch),
               "cublasDgemmStridedBatched");
  }
}
#endif

}  // namespace gm::GM_CUDA_NS

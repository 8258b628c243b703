#include "kernels/cpu/blas.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <type_traits>

namespace gm::cpu {

namespace {

// OpenBLAS has no epilogue: a second pass over C applies it, in GemmEpilogue's order.
void apply_epilogue(int64_t m, int64_t n, float* c, int64_t ldc, const GemmEpilogue& ep) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (ep.row_bias)
      for (int64_t j = 0; j < n; ++j)
        row[j] = row[j] + ep.row_bias[i];
    if (ep.residual)
      for (int64_t j = 0; j < n; ++j)
        row[j] = row[j] + ep.residual[i * ep.ldr + j];
    if (ep.relu)
      for (int64_t j = 0; j < n; ++j)
        row[j] = row[j] < 0.0f ? 0.0f : row[j];
  }
}

// No epilogue for double precision (OpenBLAS only).
struct NoEpilogue {};

template <typename T, typename Epilogue>
void blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const Epilogue& ep) {
  if constexpr (std::is_same_v<T, float>) {
    if (!sgemm_is_openblas()) {
      sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
      return;
    }
  }
  const auto op = [](bool trans) { return trans ? CblasTrans : CblasNoTrans; };
  const auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, op(ta), op(tb), i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta,
                c, i(ldc));
    if (ep.any()) apply_epilogue(m, n, c, ldc, ep);
  } else {
    cblas_dgemm(CblasRowMajor, op(ta), op(tb), i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta,
                c, i(ldc));
  }
}

// The epilogue of rows [row, ..) and columns [col, ..) of C.
GemmEpilogue shifted(const GemmEpilogue& ep, int64_t row, int64_t col) {
  GemmEpilogue s = ep;
  if (s.row_bias) s.row_bias += row;
  if (s.residual) s.residual += row * s.ldr + col;
  return s;
}
NoEpilogue shifted(NoEpilogue ep, int64_t, int64_t) {
  return ep;
}

// OpenBLAS runs GEMMs with m n k below 65536 (its SMP_THRESHOLD_MIN, times a build-time factor
// of at least 1) on the calling thread.
constexpr int64_t kSingleThreadedWork = 65536;
// At most this many tiles along the longer side of C; each tile is a multiple of 16 wide (a
// multiple of OpenBLAS's register block), so only the last one has an edge.
constexpr int64_t kMaxTiles = 8, kTileAlign = 16;

template <typename T, typename Epilogue>
void tiled_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const Epilogue& ep) {
  // Inside a parallel region, active or not (omp_get_level, not omp_in_parallel: with one
  // thread a conv's per-image region is inactive, with two it is active, and both must take
  // this path), OpenBLAS runs on the calling thread, whatever the thread count.
  if (m * n * k < kSingleThreadedWork || omp_get_level() > 0) {
    blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
    return;
  }
  const bool split_rows = m >= n;
  const int64_t side = split_rows ? m : n;
  const int64_t tile = std::max(
      kTileAlign, ((side + kMaxTiles - 1) / kMaxTiles + kTileAlign - 1) / kTileAlign * kTileAlign);
  const int64_t tiles = (side + tile - 1) / tile;
  // Even a single tile runs inside the (active) region, so OpenBLAS does not thread it.
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t first = t * tile, len = std::min(tile, side - first);
    if (split_rows)  // rows [first, first + len) of op(A) and C
      blas(ta, tb, len, n, k, alpha, ta ? a + first : a + first * lda, lda, b, ldb, beta,
           c + first * ldc, ldc, shifted(ep, first, 0));
    else  // columns [first, first + len) of op(B) and C
      blas(ta, tb, m, len, k, alpha, a, lda, tb ? b + first * ldb : b + first, ldb, beta, c + first,
           ldc, shifted(ep, 0, first));
  }
}

}  // namespace

bool sgemm_is_openblas() {
  static const bool openblas = [] {
    const char* v = std::getenv("GM_CPU_GEMM");
    return v != nullptr && std::string_view(v) == "openblas";
  }();
  return openblas;
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          const GemmEpilogue& ep) {
  tiled_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  tiled_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NoEpilogue{});
}

}  // namespace gm::cpu

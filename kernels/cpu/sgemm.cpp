#include "kernels/cpu/sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <memory>

namespace gm::cpu {

namespace {

// Register block: 6 rows x 16 columns of C (12 of the 16 ymm registers as accumulators, two
// for the B row, one for the broadcast A element).
constexpr int64_t kMr = 6, kNr = 16;
// Rows of A per pass: a block of MC x KC floats (at most 192 KiB) stays in L2 while a KC x 16
// strip of B (16 KiB) stays in L1 across its row strips.
constexpr int64_t kMc = 192, kKc = kSgemmKc;

// How one tile's accumulators are folded into C. `first`/`last`: the first and last block of
// the inner dimension. bias and residual point at the tile's own first row / element.
struct Update {
  float alpha, beta;
  bool first, last;
  const float* bias;
  const float* residual;
  int64_t ldr;
  bool relu;
};

// The one scalar definition of the update; the vector kernel does the same operations in the
// same order, so edge tiles (which go through here) round exactly like full ones.
inline float update_one(float v, const float* c, const Update& u, int64_t i, int64_t j) {
  if (u.alpha != 1.0f) v = u.alpha * v;
  if (!u.first)
    v = *c + v;
  else if (u.beta != 0.0f)
    v = u.beta * *c + v;
  if (u.last) {
    if (u.bias) v = v + u.bias[i];
    if (u.residual) v = v + u.residual[i * u.ldr + j];
    if (u.relu) v = v < 0.0f ? 0.0f : v;
  }
  return v;
}

// Folds a full kMr x kNr block of accumulators (row stride kNr) into the rows x cols corner of C.
void update_tile(const float* acc, int64_t rows, int64_t cols, float* c, int64_t ldc,
                 const Update& u) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      c[i * ldc + j] = update_one(acc[i * kNr + j], c + i * ldc + j, u, i, j);
}

// The operands as the micro-kernel reads them: A element (row r, step p) at a[r * a_row + p *
// a_step], B row p of the 16-wide strip at b + p * b_step. Packed panels, the caller's own
// matrices and their transposes are all just strides, so only what cannot be read in place (a
// transposed B, the zero-padded edges) is copied.
struct Operands {
  const float* a;
  int64_t a_row, a_step;
  const float* b;
  int64_t b_step;
};

using Kernel = void (*)(int64_t kc, const Operands& x, float* c, int64_t ldc, const Update& u);

// A strip of `rows` <= kMr rows: each row's sums are the same operations in the same order
// whatever the strip's height, so a short last strip rounds exactly like a full one.
template <int Rows>
void kernel_scalar(int64_t kc, const Operands& x, float* c, int64_t ldc, const Update& u) {
  float acc[kMr * kNr] = {};
  for (int64_t p = 0; p < kc; ++p)
    for (int64_t i = 0; i < Rows; ++i) {
      const float ai = x.a[i * x.a_row + p * x.a_step];
      for (int64_t j = 0; j < kNr; ++j)
        acc[i * kNr + j] += ai * x.b[p * x.b_step + j];
    }
  update_tile(acc, Rows, kNr, c, ldc, u);
}

template <int Rows>
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const Operands& x, float* c,
                                                     int64_t ldc, const Update& u) {
  __m256 acc[Rows][2];
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* a = x.a;
  const float* b = x.b;
  const int64_t ar = x.a_row;
  for (int64_t p = 0; p < kc; ++p, a += x.a_step, b += x.b_step) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < Rows; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i * ar);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m256 alpha = _mm256_set1_ps(u.alpha), beta = _mm256_set1_ps(u.beta);
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      float* ci = c + i * ldc + 8 * h;
      __m256 v = acc[i][h];
      if (u.alpha != 1.0f) v = _mm256_mul_ps(alpha, v);
      if (!u.first)
        v = _mm256_add_ps(_mm256_loadu_ps(ci), v);
      else if (u.beta != 0.0f)
        v = _mm256_add_ps(_mm256_mul_ps(beta, _mm256_loadu_ps(ci)), v);
      if (u.last) {
        if (u.bias) v = _mm256_add_ps(v, _mm256_set1_ps(u.bias[i]));
        if (u.residual) v = _mm256_add_ps(v, _mm256_loadu_ps(u.residual + i * u.ldr + 8 * h));
        // max(0, v) returns v when v is NaN, as the scalar v < 0 ? 0 : v does.
        if (u.relu) v = _mm256_max_ps(zero, v);
      }
      _mm256_storeu_ps(ci, v);
    }
}

// The kernels for strips of 1..kMr rows (index 0 unused).
struct Kernels {
  const char* name;
  Kernel by_rows[kMr + 1];
};
constexpr Kernels kScalar{"scalar 6x16",
                          {nullptr, kernel_scalar<1>, kernel_scalar<2>, kernel_scalar<3>,
                           kernel_scalar<4>, kernel_scalar<5>, kernel_scalar<6>}};
constexpr Kernels kAvx2{"avx2-fma 6x16",
                        {nullptr, kernel_avx2<1>, kernel_avx2<2>, kernel_avx2<3>, kernel_avx2<4>,
                         kernel_avx2<5>, kernel_avx2<6>}};

bool has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// The 8 x 8 block at src (row stride lds) transposed into dst (row stride ldd).
__attribute__((target("avx2"))) void transpose8(const float* src, int64_t lds, float* dst,
                                                int64_t ldd) {
  __m256 r[8], t[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    r[i] = _mm256_loadu_ps(src + i * lds);
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// One strip of kNr columns of op(B) = B^T, B stored [n, k]: out[p * kNr + j] =
// b[(j0 + j) * ldb + p0 + p], zero beyond `cols`.
void pack_b_trans(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                  bool avx2, float* out) {
  int64_t p = 0;
  if (avx2 && cols == kNr)
    for (; p + 8 <= kc; p += 8)
      for (int64_t jb = 0; jb < kNr; jb += 8)
        transpose8(b + (j0 + jb) * ldb + p0 + p, ldb, out + p * kNr + jb, kNr);
  for (; p < kc; ++p)
    for (int64_t j = 0; j < kNr; ++j)
      out[p * kNr + j] = j < cols ? b[(j0 + j) * ldb + p0 + p] : 0.0f;
}

// One strip of kNr columns of a non-transposed B narrower than kNr, zero-padded.
void pack_b_edge(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
                 float* out) {
  for (int64_t p = 0; p < kc; ++p)
    for (int64_t j = 0; j < kNr; ++j)
      out[p * kNr + j] = j < cols ? b[(p0 + p) * ldb + j0 + j] : 0.0f;
}

const Kernels& best_kernels() {
  static const Kernels& kernels = has_avx2_fma() ? kAvx2 : kScalar;
  return kernels;
}

}  // namespace

const char* sgemm_kernel_name() {
  return best_kernels().name;
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue& ep, SgemmKernel which) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // C = epilogue(beta C): the update of an all-zero accumulator
    const Update u{alpha, beta, true, true, ep.row_bias, ep.residual, ep.ldr, ep.relu};
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * ldc + j] = update_one(0.0f, c + i * ldc + j, u, i, j);
    return;
  }
  const Kernels& kernels = which == SgemmKernel::scalar ? kScalar : best_kernels();
  const bool avx2 = &kernels == &kAvx2;
  const int64_t kc_max = std::min(kKc, k);
  const auto b_strip = std::unique_ptr<float[]>(new float[static_cast<size_t>(kc_max * kNr)]);
  alignas(32) float edge[kMr * kNr];
  for (int64_t pc = 0; pc < k; pc += kKc) {
    const int64_t kc = std::min(kKc, k - pc);
    for (int64_t ic = 0; ic < m; ic += kMc) {
      const int64_t mc = std::min(kMc, m - ic);
      for (int64_t j = 0; j < n; j += kNr) {
        const int64_t cols = std::min(kNr, n - j);
        Operands x{};
        if (!tb && cols == kNr) {  // read in place, row p of the strip at b[(pc + p) ldb + j]
          x.b = b + pc * ldb + j;
          x.b_step = ldb;
        } else {
          if (tb)
            pack_b_trans(b, ldb, pc, kc, j, cols, avx2, b_strip.get());
          else
            pack_b_edge(b, ldb, pc, kc, j, cols, b_strip.get());
          x.b = b_strip.get();
          x.b_step = kNr;
        }
        for (int64_t i = ic; i < ic + mc; i += kMr) {
          const int64_t rows = std::min(kMr, m - i);
          x.a = ta ? a + pc * lda + i : a + i * lda + pc;
          x.a_row = ta ? 1 : lda;
          x.a_step = ta ? lda : 1;
          const Update u{alpha,
                         beta,
                         pc == 0,
                         pc + kc == k,
                         ep.row_bias ? ep.row_bias + i : nullptr,
                         ep.residual ? ep.residual + i * ep.ldr + j : nullptr,
                         ep.ldr,
                         ep.relu};
          const Kernel kernel = kernels.by_rows[rows];
          if (cols == kNr) {
            kernel(kc, x, c + i * ldc + j, ldc, u);
          } else {  // the raw sums into `edge`, then the same update on the valid corner
            const Update raw{1.0f, 0.0f, true, false, nullptr, nullptr, 0, false};
            kernel(kc, x, edge, kNr, raw);
            update_tile(edge, rows, cols, c + i * ldc + j, ldc, u);
          }
        }
      }
    }
  }
}

}  // namespace gm::cpu

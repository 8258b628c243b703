// The emulated tensor-core instructions (kernels/simt/mma.h): fragment layouts checked on
// hand-made matrices, and the rounding of their inputs (kernels/common/reduced_float.h).
// Every expected value here is exact: the matrices hold small integers or values chosen so
// that each rounding step has one right answer, so the checks are equalities.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "kernels/common/reduced_float.h"
#include "kernels/simt/simt.h"

using namespace gm;

namespace kernels {
using namespace gm::simt;

// One warp: every lane loads its fragments from row-major A [16][K], B [K][8] and C [16][8]
// by the layouts of mma.h (written out again here, independently, as the specification), runs
// one mma, and stores its part of D the same way.
template <bool kBf16>
__global__ void one_mma(const float* a, const float* b, const float* c, float* d) {
  constexpr int K = kBf16 ? 16 : 8;
  const int lane = static_cast<int>(threadIdx.x), g = lane / 4, t = lane % 4;
  uint32_t af[4], bf[2];
  float cf[4], df[4];
  for (int r = 0; r < 4; ++r) {
    const int row = g + 8 * (r % 2);
    if (kBf16) {
      const int col = 2 * t + 8 * (r / 2);
      af[r] = pack_bf16x2(a[row * K + col], a[row * K + col + 1]);
    } else {
      af[r] = float_bits(round_tf32(a[row * K + t + 4 * (r / 2)]));
    }
  }
  for (int r = 0; r < 2; ++r) {
    if (kBf16) {
      const int k = 2 * t + 8 * r;
      bf[r] = pack_bf16x2(b[k * 8 + g], b[(k + 1) * 8 + g]);
    } else {
      bf[r] = float_bits(round_tf32(b[(t + 4 * r) * 8 + g]));
    }
  }
  for (int r = 0; r < 4; ++r)
    cf[r] = c[(g + 8 * (r / 2)) * 8 + 2 * t + r % 2];
  if (kBf16)
    mma_m16n8k16_bf16(df, af, bf, cf);
  else
    mma_m16n8k8_tf32(df, af, bf, cf);
  for (int r = 0; r < 4; ++r)
    d[(g + 8 * (r / 2)) * 8 + 2 * t + r % 2] = df[r];
}

// TF32 registers straight from float32, without round_tf32: the emulator must refuse them.
__global__ void unrounded_tf32(const float* a, float* d) {
  uint32_t af[4], bf[2] = {0, 0};
  float cf[4] = {0, 0, 0, 0}, df[4];
  for (int r = 0; r < 4; ++r)
    af[r] = float_bits(a[threadIdx.x]);
  mma_m16n8k8_tf32(df, af, bf, cf);
  d[threadIdx.x] = df[0];
}

}  // namespace kernels

namespace {

// D = A B + C on one warp; matrices row-major as in one_mma.
std::vector<float> run_mma(bool bf16, const std::vector<float>& a, const std::vector<float>& b,
                           const std::vector<float>& c) {
  std::vector<float> d(16 * 8, std::numeric_limits<float>::quiet_NaN());
  if (bf16)
    GM_LAUNCH(kernels::one_mma<true>, 1, 32, 0, nullptr)(a.data(), b.data(), c.data(), d.data());
  else
    GM_LAUNCH(kernels::one_mma<false>, 1, 32, 0, nullptr)(a.data(), b.data(), c.data(), d.data());
  return d;
}

}  // namespace

TEST_CASE("round_tf32 and BF16 round to nearest, ties to even", "[simt][mma]") {
  // TF32 keeps 10 mantissa bits: at 1 its ulp is 2^-10, half an ulp 2^-11.
  CHECK(round_tf32(1.0f + 0x1p-11f) == 1.0f);                             // tie, 1 is even
  CHECK(round_tf32(1.0f + 0x1p-10f + 0x1p-11f) == 1.0f + 0x1p-9f);        // tie, rounds to even
  CHECK(round_tf32(1.0f + 0x1p-11f + 0x1p-20f) == 1.0f + 0x1p-10f);       // above half
  CHECK(round_tf32(1.0f + 0x1p-11f - 0x1p-20f) == 1.0f);                  // below half
  CHECK(round_tf32(-(1.0f + 0x1p-10f + 0x1p-11f)) == -(1.0f + 0x1p-9f));  // sign kept
  CHECK((float_bits(round_tf32(0.1f)) & 0x1fffu) == 0);
  // BF16 keeps 7: ulp 2^-7 at 1.
  CHECK(round_bf16(1.0f + 0x1p-8f) == 1.0f);
  CHECK(round_bf16(1.0f + 0x1p-7f + 0x1p-8f) == 1.0f + 0x1p-6f);
  CHECK(round_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(pack_bf16x2(1.0f, -2.0f) == 0xc0003f80u);  // the first value in the low half
  // Past the largest finite BF16 plus half an ulp: infinity, as IEEE rounding requires.
  CHECK(std::isinf(round_bf16(std::numeric_limits<float>::max())));
  CHECK(std::isinf(round_tf32(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lies only in the dropped bits stays a NaN.
  CHECK(std::isnan(round_tf32(bits_float(0x7f800001u))));
  CHECK(std::isnan(round_bf16(bits_float(0x7f800001u))));
}

TEST_CASE("emulated mma.sync: fragment layouts on integer matrices", "[simt][mma]") {
  for (bool bf16 : {false, true}) {
    const int K = bf16 ? 16 : 8;
    // Small integers, exact in BF16 (8 significant bits) and TF32, with products and sums
    // exact in float32: any element read from the wrong place changes the result.
    std::vector<float> a(16 * K), b(K * 8), c(16 * 8);
    for (int i = 0; i < 16; ++i)
      for (int k = 0; k < K; ++k)
        a[i * K + k] = static_cast<float>((i * 7 + k * 3) % 23 - 11);
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < 8; ++j)
        b[k * 8 + j] = static_cast<float>((k * 5 + j * 11) % 19 - 9);
    for (int i = 0; i < 128; ++i)
      c[i] = static_cast<float>(1000 * (i / 8) + i % 8);
    const std::vector<float> d = run_mma(bf16, a, b, c);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        double want = c[i * 8 + j];
        for (int k = 0; k < K; ++k)
          want += static_cast<double>(a[i * K + k]) * b[k * 8 + j];
        INFO((bf16 ? "bf16" : "tf32") << " D(" << i << ", " << j << ")");
        CHECK(d[i * 8 + j] == want);
      }
  }
}

TEST_CASE("emulated mma.sync: inputs rounded, accumulation in float32", "[simt][mma]") {
  for (bool bf16 : {false, true}) {
    const int K = bf16 ? 16 : 8;
    const float half_ulp = bf16 ? 0x1p-8f : 0x1p-11f;  // at 1
    // A holds values next to a rounding boundary, B is the identity (zero below row 8): D is
    // op(A)'s first 8 columns, rounded. Row i uses one of four cases.
    const float cases[4] = {1.0f + half_ulp,                        // tie -> 1
                            1.0f + 3 * half_ulp,                    // tie -> 1 + 4 half ulps
                            1.0f + half_ulp + half_ulp / 1024,      // above half -> 1 + 2 half ulps
                            -(1.0f + half_ulp - half_ulp / 1024)};  // below half -> -1
    const float rounded[4] = {1.0f, 1.0f + 4 * half_ulp, 1.0f + 2 * half_ulp, -1.0f};
    std::vector<float> a(16 * K, 0.0f), b(K * 8, 0.0f), c(16 * 8, 0.0f);
    for (int i = 0; i < 16; ++i)
      for (int k = 0; k < 8; ++k)
        a[i * K + k] = cases[(i + k) % 4];
    for (int k = 0; k < 8; ++k)
      b[k * 8 + k] = 1.0f;
    std::vector<float> d = run_mma(bf16, a, b, c);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        INFO((bf16 ? "bf16" : "tf32") << " D(" << i << ", " << j << ")");
        CHECK(d[i * 8 + j] == rounded[(i + j) % 4]);
      }
    // The sum is float32, not the input format: C = 1 plus K products 2^-20 x 1 is exactly
    // 1 + K 2^-20 in float32 (ulp 2^-23 at 1), but would stay 1 in TF32 or BF16.
    std::fill(a.begin(), a.end(), 0x1p-20f);
    std::fill(b.begin(), b.end(), 1.0f);
    std::fill(c.begin(), c.end(), 1.0f);
    d = run_mma(bf16, a, b, c);
    for (float v : d)
      CHECK(v == 1.0f + static_cast<float>(K) * 0x1p-20f);
  }
}

TEST_CASE("emulated mma.sync .tf32 refuses operands that are not TF32", "[simt][mma]") {
  std::vector<float> a(32, 1.0f), d(32);
  a[5] = 1.0f + 0x1p-20f;  // lane 5 forgot round_tf32
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::unrounded_tf32, 1, 32, 0, nullptr)(a.data(), d.data()),
                    Catch::Matchers::Contains("lane 5") && Catch::Matchers::Contains("round_tf32"));
}

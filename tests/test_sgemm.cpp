// genmodel's own single-precision GEMM (kernels/cpu/sgemm.h) against a double-precision oracle,
// on shapes that are not multiples of its register block (6 x 16) nor of its cache blocks (192
// rows, 256 inner), with all four transposes, padded leading dimensions, alpha,
// beta and the epilogue; and the property the threaded callers rely on: the same element of C
// gets the same bits however C is cut or however many threads share it.
#include <omp.h>

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/sgemm.h"

using namespace gm;

namespace {

struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha = 1.0f, beta = 0.0f;
  bool bias = false, residual = false, relu = false;
  // Leading dimensions: the stored width plus this much padding.
  int64_t pad = 3;

  int64_t lda() const { return (ta ? m : k) + pad; }
  int64_t ldb() const { return (tb ? k : n) + pad; }
  int64_t ldc() const { return n + pad; }
};

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v)
    x = dist(gen);
  return v;
}

struct Data {
  std::vector<float> a, b, c, bias, residual;
  explicit Data(const Problem& p)
      : a(random_values((p.ta ? p.k : p.m) * p.lda(), 1)),
        b(random_values((p.tb ? p.n : p.k) * p.ldb(), 2)),
        c(random_values(p.m * p.ldc(), 3)),
        bias(random_values(p.m, 4)),
        residual(random_values(p.m * p.ldc(), 5)) {
    // With beta == 0 the old C must not be read: NaN there would show.
    if (p.beta == 0.0f) std::fill(c.begin(), c.end(), std::numeric_limits<float>::quiet_NaN());
  }
  cpu::GemmEpilogue epilogue(const Problem& p, int64_t row = 0, int64_t col = 0) const {
    cpu::GemmEpilogue ep;
    if (p.bias) ep.row_bias = bias.data() + row;
    if (p.residual) {
      ep.residual = residual.data() + row * p.ldc() + col;
      ep.ldr = p.ldc();
    }
    ep.relu = p.relu;
    return ep;
  }
};

void run(const Problem& p, Data& d, cpu::SgemmKernel kernel) {
  cpu::sgemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, d.a.data(), p.lda(), d.b.data(), p.ldb(), p.beta,
             d.c.data(), p.ldc(), d.epilogue(p), kernel);
}

// Checks every element against the sum in double. Rounding error bound of a float dot product
// of length k, each term rounded once and each addition once (FMA or not): (k + 1) u sum |a b|,
// u = eps / 2; the update (alpha, beta C, bias, residual) adds at most 5 roundings of values no
// larger than the sum of their magnitudes. Twice that allows for nothing but slack.
void check(const Problem& p, cpu::SgemmKernel kernel) {
  Data d(p);
  const std::vector<float> c0 = d.c;
  run(p, d, kernel);
  const double u = std::numeric_limits<float>::epsilon() / 2.0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double dot = 0.0, magnitude = 0.0;
      for (int64_t q = 0; q < p.k; ++q) {
        const double av = p.ta ? d.a[q * p.lda() + i] : d.a[i * p.lda() + q];
        const double bv = p.tb ? d.b[j * p.ldb() + q] : d.b[q * p.ldb() + j];
        dot += av * bv;
        magnitude += std::abs(av * bv);
      }
      double want = p.alpha * dot;
      double size = std::abs(p.alpha) * magnitude;
      if (p.beta != 0.0f) {
        want += p.beta * c0[i * p.ldc() + j];
        size += std::abs(p.beta * c0[i * p.ldc() + j]);
      }
      if (p.bias) {
        want += d.bias[i];
        size += std::abs(d.bias[i]);
      }
      if (p.residual) {
        want += d.residual[i * p.ldc() + j];
        size += std::abs(d.residual[i * p.ldc() + j]);
      }
      if (p.relu) want = std::max(want, 0.0);
      const double tolerance = 2.0 * (static_cast<double>(p.k) + 6.0) * u * size;
      const double got = d.c[i * p.ldc() + j];
      INFO("C[" << i << ", " << j << "] of " << p.m << "x" << p.n << "x" << p.k << " ta=" << p.ta
                << " tb=" << p.tb);
      REQUIRE(std::abs(got - want) <= tolerance);
    }
}

}  // namespace

TEST_CASE("sgemm matches a double-precision oracle on odd shapes", "[sgemm]") {
  const cpu::SgemmKernel kernel = GENERATE(cpu::SgemmKernel::best, cpu::SgemmKernel::scalar);
  const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
  // (m, n, k): a single element; below one register block; exactly one; crossing the inner block
  // (256) twice; crossing the 120-row and 1536-column cache blocks; k = 1.
  const std::vector<std::array<int64_t, 3>> shapes = {{1, 1, 1},     {5, 13, 7},     {6, 16, 24},
                                                      {13, 35, 531}, {125, 1553, 9}, {31, 17, 1}};
  for (const auto& [m, n, k] : shapes) {
    check({ta, tb, m, n, k}, kernel);
    check({ta, tb, m, n, k, -1.5f, 0.5f}, kernel);
    check({ta, tb, m, n, k, 1.0f, 0.0f, true, true, true}, kernel);
    check({ta, tb, m, n, k, 0.75f, 1.0f, true, false, true}, kernel);
  }
}

TEST_CASE("sgemm with an empty inner dimension is epilogue(beta C)", "[sgemm]") {
  check({false, false, 7, 9, 0, 1.0f, 0.5f, true, true, true}, cpu::SgemmKernel::best);
  check({false, false, 7, 9, 0, 1.0f, 0.0f}, cpu::SgemmKernel::best);
}

TEST_CASE("sgemm gives the same bits however C is cut", "[sgemm]") {
  const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
  const Problem p{ta, tb, 47, 83, 300, 1.0f, 1.0f, true, true, true};
  Data whole(p), pieces(p);
  run(p, whole, cpu::SgemmKernel::best);
  // Four pieces cut at row 19 and column 37, neither a multiple of the register block.
  const int64_t rows[] = {0, 19, p.m}, cols[] = {0, 37, p.n};
  for (int r = 0; r < 2; ++r)
    for (int s = 0; s < 2; ++s) {
      const int64_t i = rows[r], j = cols[s], mi = rows[r + 1] - i, nj = cols[s + 1] - j;
      const float* a = p.ta ? pieces.a.data() + i : pieces.a.data() + i * p.lda();
      const float* b = p.tb ? pieces.b.data() + j * p.ldb() : pieces.b.data() + j;
      cpu::sgemm(p.ta, p.tb, mi, nj, p.k, p.alpha, a, p.lda(), b, p.ldb(), p.beta,
                 pieces.c.data() + i * p.ldc() + j, p.ldc(), pieces.epilogue(p, i, j));
    }
  REQUIRE(std::memcmp(whole.c.data(), pieces.c.data(), whole.c.size() * sizeof(float)) == 0);
}

TEST_CASE("cpu::gemm in single precision gives the same bits with 1 and 2 threads", "[sgemm]") {
  // Large enough that cpu::gemm cuts C into tiles shared by the threads.
  const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
  const Problem p{ta, tb, 200, 173, 301, 1.0f, 0.0f, true, true, true};
  const int previous = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Data d(p);
    cpu::gemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, d.a.data(), p.lda(), d.b.data(), p.ldb(), p.beta,
              d.c.data(), p.ldc(), d.epilogue(p));
    results.push_back(d.c);
  }
  omp_set_num_threads(previous);
  REQUIRE(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) ==
          0);
}

// The VAE's Gaussian ops: reparameterised sample and closed-form KL, against scalar oracles
// and finite differences.
#include <cmath>

#include "kernels/common/philox.h"
#include "tests/support.h"

using namespace gm;
using gm::test::HostValues;
using gm::test::OpCase;

namespace {

constexpr uint64_t kSeed = 77;

OpCase sample_case(const Shape& shape) {
  OpCase c;
  c.name = fmt::format("gaussian_sample {}", shape_str(shape));
  c.shapes = {shape, shape};
  c.ranges = {{-1.5, 1.5}, {-3.0, 1.0}};  // mu, logvar
  // A fresh generator per call: every evaluation (and every finite difference) sees one eps.
  c.op = [](const std::vector<Tensor>& x) {
    Generator gen(kSeed);
    return gaussian_sample(x[0], x[1], gen);
  };
  // eps is by definition the Philox normal of the generator's counters 0, 1, ...
  c.reference = [](const std::vector<HostValues>& x) {
    HostValues z(x[0].size());
    for (size_t i = 0; i < z.size(); ++i)
      z[i] = x[0][i] + philox::normal(kSeed, 0, i) * std::exp(0.5 * x[1][i]);
    return z;
  };
  return c;
}

OpCase kl_case(const Shape& shape) {
  OpCase c;
  c.name = fmt::format("kl_std_normal {}", shape_str(shape));
  c.shapes = {shape, shape};
  c.ranges = {{-2.0, 2.0}, {-4.0, 1.5}};  // mu, logvar
  c.op = [](const std::vector<Tensor>& x) { return kl_std_normal(x[0], x[1]); };
  c.reference = [shape](const std::vector<HostValues>& x) {
    const size_t N = static_cast<size_t>(shape[0]), D = x[0].size() / N;
    HostValues kl(N, 0.0);
    for (size_t n = 0; n < N; ++n)
      for (size_t d = n * D; d < (n + 1) * D; ++d)
        kl[n] += -0.5 * (1.0 + x[1][d] - x[0][d] * x[0][d] - std::exp(x[1][d]));
    return kl;
  };
  // Sums of up to 21 terms of order one, rounded once to float32 at the end.
  c.f32_atol = 1e-5;
  return c;
}

}  // namespace

TEST_CASE("gaussian sample and KL match their oracles and finite differences",
          "[ops][fused][vae]") {
  const std::vector<OpCase> cases = {
      sample_case({3, 5}), sample_case({2, 3, 7}), kl_case({3, 5}),
      kl_case({3, 7}),     kl_case({2, 3, 7}),  // trailing dims flattened: D = 21
  };
  for (const OpCase& c : cases)
    gm::test::check_op_case(c);
}

TEST_CASE("gaussian sample draws from the generator's stream", "[ops][fused][vae]") {
  const Tensor mu = Tensor::zeros({4, 5}), logvar = Tensor::zeros({4, 5});
  Generator a(5), b(5);
  const std::vector<float> first = gaussian_sample(mu, logvar, a).to_vector<float>();
  REQUIRE(gaussian_sample(mu, logvar, b).to_vector<float>() == first);
  REQUIRE(a.offset() == 20);  // one counter per element
  // With mu = 0 and logvar = 0 the sample is eps itself: the generator's normal stream.
  Generator c(5);
  REQUIRE(Tensor::normal({4, 5}, 0.0, 1.0, c).to_vector<float>() == first);
  REQUIRE(gaussian_sample(mu, logvar, a).to_vector<float>() != first);
  for (Device device : gm::test::test_devices()) {
    Generator g(5);
    REQUIRE(gaussian_sample(mu.to(device), logvar.to(device), g).to_vector<float>() == first);
  }
}

TEST_CASE("KL is zero at the prior and keeps its digits near it", "[ops][fused][vae]") {
  REQUIRE(kl_std_normal(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})).to_vector<double>() ==
          std::vector<double>{0.0, 0.0});
  // Per dimension KL = (exp(l) - 1 - l) / 2 = l^2/4 + l^3/12 + l^4/48 + ... Computed as
  // written, l = 1e-4 would leave nothing in float32 (exp(l) - 1 is 1e-4 with error 6e-12,
  // as big as the answer 2.5e-9). Both dtypes must keep their precision on either side of the
  // series/expm1 crossover at |l| = 0.01 (rounding of l itself to float32 is part of `got`).
  for (double l : {1e-4, -3e-3, 0.05, -0.2}) {
    const double want = static_cast<double>(0.5L * (std::expm1(static_cast<long double>(l)) - l));
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO("logvar " << l << " " << dtype_name(dtype));
      const Tensor lv = Tensor::full({1, 1}, l, dtype);
      const double exact = static_cast<double>(
          0.5L * std::expm1(static_cast<long double>(lv.item())) - 0.5L * lv.item());
      const double got = kl_std_normal(Tensor::zeros({1, 1}, dtype), lv).item();
      // float32: the series is exact to a few ulps (1e-6); expm1(l) - l at |l| >= 0.01 loses
      // up to 2/|l| ulps of expm1 (4e-5 at l = 0.05). float64: 1e-13 covers both branches.
      const double rtol = dtype == DType::f64 ? 1e-13 : (std::abs(l) < 0.01 ? 1e-6 : 1e-4);
      REQUIRE(std::abs(got - exact) <= rtol * std::abs(exact));
      if (dtype == DType::f64) REQUIRE(std::abs(got - want) <= 1e-13 * std::abs(want));
    }
  }
}

TEST_CASE("gaussian ops check shapes and dtypes", "[ops][fused][vae][errors]") {
  Generator g(1);
  REQUIRE_THROWS_WITH(gaussian_sample(Tensor::zeros({2, 3}), Tensor::zeros({2, 4}), g),
                      Catch::Contains("logvar") && Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(kl_std_normal(Tensor::zeros({2, 3}), Tensor::zeros({2, 3}, DType::f64)),
                      Catch::Contains("dtypes differ"));
  REQUIRE_THROWS_WITH(kl_std_normal(Tensor::zeros({}), Tensor::zeros({})),
                      Catch::Contains("scalar"));
}

// The VAE's Gaussian ops: reparameterised sample and closed-form KL, against scalar oracles
// and finite differences.
#include <cmath>

#include "tests/support.h"

using namespace gm;

TEST_CASE("gaussian sample and KL match their oracles and finite differences",
          "[ops][fused][vae]") {
  gm::test::check_op_cases("gaussian_sample");
  gm::test::check_op_cases("kl_std_normal");
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

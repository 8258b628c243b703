// Bernoulli-logit and discretized-logistic NLLs: scalar oracles in long double, finite
// differences, the extreme regimes (huge logits, sharp and wide logistics), normalisation.
#include <cmath>
#include <optional>

#include "kernels/cuda/cuda_backend.h"
#include "models/images.h"
#include "support/op_cases/oracles.h"
#include "tests/support.h"

using namespace gm;
using gm::test::HostValues;
using gm::test::OpCase;

namespace {

using Real = long double;

HostValues nll_values(const Tensor& t) {
  return t.to_vector<double>();
}

}  // namespace

TEST_CASE("bernoulli nll matches its oracle and finite differences", "[ops][fused][vae]") {
  gm::test::check_op_cases("bernoulli_nll");
}

TEST_CASE("bernoulli nll is exact for huge logits", "[ops][fused][vae]") {
  // One term per image. softplus(l) - t l computed literally would return 0 for (20, 1) in
  // float32 (20 + 2e-9 rounds to 20) and inf - inf = NaN for (1000, 1) in any dtype.
  const HostValues logits = {20.0, -20.0, 1000.0, -1000.0, 1000.0, -1000.0, 40.0, -88.0};
  const HostValues target = {1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0};
  HostValues want(logits.size()), dwant(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const Real l = logits[i], t = target[i];
    // t softplus(-l) + (1 - t) softplus(l), each softplus as max(u, 0) + log1p(exp(-|u|)).
    auto sp = [](Real u) { return std::max(u, Real(0)) + std::log1p(std::exp(-std::abs(u))); };
    want[i] = static_cast<double>(t * sp(-l) + (1 - t) * sp(l));
    dwant[i] = static_cast<double>(catalogue::sigmoid_ld(l) - t);
  }
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(device.name() << " " << dtype_name(dtype));
      const Shape shape = {static_cast<int64_t>(logits.size()), 1};
      Tensor l = Tensor::from_vector(logits, shape, dtype, device).set_requires_grad();
      const Tensor nll = bernoulli_nll(l, Tensor::from_vector(target, shape, dtype, device));
      // Relative accuracy of a few ulps on every term, tiny or huge.
      const double rtol = dtype == DType::f64 ? 1e-14 : 1e-6;
      gm::test::require_close(nll_values(nll), want, 0.0, rtol, "bernoulli nll, huge logits");
      sum(nll).backward();
      gm::test::require_close(l.grad().to_vector<double>(), dwant, 1e-7, 0.0,
                              "bernoulli gradient, huge logits");
    }
  }
}

TEST_CASE("discretized logistic nll matches its oracle and finite differences",
          "[ops][fused][vae]") {
  gm::test::check_op_cases("discretized_logistic_nll");
}

TEST_CASE("discretized logistic bins are a distribution", "[ops][fused][vae]") {
  // 256 one-pixel images, one per level: the probabilities of all levels must sum to one, which
  // holds only if the end bins take the whole tails and the middle bins tile [-1, 1] exactly.
  HostValues x(256);
  for (size_t v = 0; v < 256; ++v)
    x[v] = static_cast<double>(v) / 127.5 - 1.0;
  for (auto [mean, log_scale] : {std::pair{0.3, -2.0}, {-0.9, -7.0}, {1.4, 0.5}, {0.0, 6.0}}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO("mean " << mean << " log_scale " << log_scale << " " << dtype_name(dtype));
      const Tensor nll = discretized_logistic_nll(Tensor::from_vector(x, {256, 1}, dtype),
                                                  Tensor::full({256, 1}, mean, dtype),
                                                  Tensor::full({256, 1}, log_scale, dtype));
      Real total = 0;
      for (double v : nll_values(nll))
        total += std::exp(static_cast<Real>(-v));
      // 256 probabilities, each accurate to a few ulps of the dtype; float32 also rounds each
      // x (moving the shared edge of two neighbouring bins apart by ~6e-8). Observed totals
      // are within 3e-7 (float32) and 3e-15 (float64) of one.
      const double tol = dtype == DType::f64 ? 1e-13 : 3e-6;
      REQUIRE(std::abs(static_cast<double>(total) - 1.0) <= tol);
    }
  }
}

TEST_CASE("discretized logistic tends to density times bin width for wide logistics",
          "[ops][fused][vae]") {
  // log_scale = 12: a bin spans 2e-8 standard units. The probability is the density at the bin
  // centre times the width 2/255, up to a relative w^2/24 ~ 1e-17 (midpoint rule). A literal
  // CDF difference would be 0 in float32 (log = -inf) and keep ~8 digits in float64.
  const double log_scale = 12.0;
  const HostValues levels = {1.0, 64.0, 127.0, 128.0, 200.0, 254.0};
  for (DType dtype : {DType::f64, DType::f32}) {
    for (double v : levels) {
      const double x = v / 127.5 - 1.0, mean = 0.25;
      const Tensor xt = Tensor::full({1, 1}, x, dtype);
      const double xr = xt.item();  // x as the kernel sees it
      const Real s = std::exp(static_cast<Real>(log_scale)), c = (xr - mean) / s;
      const Real want =
          std::log(catalogue::sigmoid_ld(c) * catalogue::sigmoid_ld(-c) / s * 2 / 255);
      const double got = -discretized_logistic_nll(xt, Tensor::full({1, 1}, mean, dtype),
                                                   Tensor::full({1, 1}, log_scale, dtype))
                              .item();
      INFO("level " << v << " " << dtype_name(dtype));
      // log p ~ -21: relative 1e-15 in float64, a few ulps (1e-6) in float32.
      REQUIRE(std::abs(got - static_cast<double>(want)) <= (dtype == DType::f64 ? 1e-13 : 2e-5));
    }
  }
}

TEST_CASE("likelihoods reject off-grid pixels and mismatched tensors", "[ops][fused][errors]") {
  const Tensor m = Tensor::zeros({2, 3}), ls = Tensor::zeros({2, 3});
  // 0.5 = 2 v / 255 - 1 for v = 191.25: not a level; 3 and raw pixel values are off the range.
  for (double bad : {0.5, 3.0, 255.0}) {
    std::vector<float> x(6, -1.0f);
    x[4] = static_cast<float>(bad);
    REQUIRE_THROWS_WITH(discretized_logistic_nll(Tensor::from_vector(x, {2, 3}), m, ls),
                        Catch::Contains("not on the 256-level grid") && Catch::Contains("x[4]"));
  }
  REQUIRE_THROWS_WITH(discretized_logistic_nll(Tensor::zeros({2, 3}), m, Tensor::zeros({2, 4})),
                      Catch::Contains("log_scale") && Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(
      discretized_logistic_nll(Tensor::zeros({2, 3}, DType::f64), m, Tensor::zeros({2, 3})),
      Catch::Contains("dtypes differ"));
  REQUIRE_THROWS_WITH(bernoulli_nll(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})),
                      Catch::Contains("target") && Catch::Contains("[3, 2]"));
  REQUIRE_THROWS_WITH(bernoulli_nll(Tensor::zeros({}), Tensor::zeros({})),
                      Catch::Contains("scalar"));
}

TEST_CASE("a target made from uint8 pixels is scored without reading it back", "[ops][fused]") {
  // Every level 0..255, as scale_images makes them, against a few logistics.
  std::vector<uint8_t> levels(256);
  for (size_t v = 0; v < levels.size(); ++v)
    levels[v] = static_cast<uint8_t>(v);
  for (const Device device : test::test_devices()) {
    INFO(device.name());
    const Tensor x = reshape(
        models::scale_images(Tensor::from_vector(levels, {2, 1, 8, 16}), DType::f32, device),
        {2, 128});
    const Tensor m = Tensor::full({2, 128}, 0.125, DType::f32, device);
    const Tensor ls = Tensor::full({2, 128}, -2.5, DType::f32, device);
    const std::optional<CudaCounters> before = cuda_counters(device);
    const Tensor trusted = discretized_logistic_nll(x, m, ls, PixelGrid::from_uint8);
    if (before) {
      const CudaCounters c = *cuda_counters(device) - *before;
      INFO(describe_counters(c));
      CHECK(c.host_syncs == 0);
      CHECK(c.d2h_bytes == 0);
    }
    // The same kernels: the same bits as the checked call.
    CHECK(trusted.to_vector<float>() == discretized_logistic_nll(x, m, ls).to_vector<float>());
  }
}

// Bernoulli-logit and discretized-logistic NLLs: scalar oracles in long double, finite
// differences, the extreme regimes (huge logits, sharp and wide logistics), normalisation.
#include <cmath>

#include "tests/support.h"

using namespace gm;
using gm::test::HostValues;
using gm::test::OpCase;

namespace {

using Real = long double;

// ---- Bernoulli

// Binary targets in a fixed pattern (both classes in every image).
HostValues binary_targets(size_t count) {
  HostValues t(count);
  for (size_t i = 0; i < count; ++i)
    t[i] = (i * 7 + 3) % 5 < 2 ? 1.0 : 0.0;
  return t;
}

// softplus(l) - t l, directly, in long double: exact enough for |l| <= 40.
Real bernoulli_ref(Real l, Real t) {
  return std::log1p(std::exp(l)) - t * l;
}

OpCase bernoulli_case(const Shape& shape, double low, double high) {
  const HostValues targets = binary_targets(static_cast<size_t>(shape_numel(shape)));
  OpCase c;
  c.name = fmt::format("bernoulli_nll {} in [{}, {}]", shape_str(shape), low, high);
  c.shapes = {shape};
  c.low = low;
  c.high = high;
  c.op = [targets, shape](const std::vector<Tensor>& x) {
    return bernoulli_nll(x[0], Tensor::from_vector(targets, shape, x[0].dtype(), x[0].device()));
  };
  c.reference = [targets, shape](const std::vector<HostValues>& x) {
    const size_t N = static_cast<size_t>(shape[0]), S = targets.size() / N;
    HostValues nll(N);
    for (size_t n = 0; n < N; ++n) {
      Real total = 0;
      for (size_t i = n * S; i < (n + 1) * S; ++i)
        total += bernoulli_ref(x[0][i], targets[i]);
      nll[n] = static_cast<double>(total);
    }
    return nll;
  };
  // float32: logits of up to 12 give terms up to 12, sums of 15 of them up to ~100.
  c.f32_atol = 2e-5;
  return c;
}

// ---- discretized logistic

Real sigmoid_ref(Real t) {
  return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
}

// log P(bin of x) from the definition: the logistic CDF at the bin's edges, end bins taking
// the tails. The middle difference is taken on the side of the mean where both CDFs are small
// (sigmoid(a) - sigmoid(b) = sigmoid(-b) - sigmoid(-a)), so long double loses only the
// 1 / (bin width) factor of the subtraction itself.
Real logistic_ref(Real x, Real mean, Real log_scale) {
  const Real s = std::exp(log_scale), half = Real(1) / 255;
  Real a = (x + half - mean) / s, b = (x - half - mean) / s;
  if (x < -1 + half) return std::log(sigmoid_ref(a));
  if (x > 1 - half) return std::log(sigmoid_ref(-b));
  if (a + b > 0) {
    const Real flipped_a = -b;
    b = -a;
    a = flipped_a;
  }
  return std::log(sigmoid_ref(a) - sigmoid_ref(b));
}

// Pixel levels covering both end bins and the interior, as grid values x = 2 v / 255 - 1.
HostValues grid_values(size_t count, size_t salt) {
  HostValues x(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t v = i % 7 == 0 ? 0 : i % 7 == 1 ? 255 : (i * 53 + salt * 31 + 7) % 256;
    x[i] = static_cast<double>(v) / 127.5 - 1.0;
  }
  return x;
}

OpCase logistic_case(std::string regime, const Shape& shape, std::pair<double, double> mean,
                     std::pair<double, double> log_scale) {
  const HostValues x = grid_values(static_cast<size_t>(shape_numel(shape)), shape.size());
  OpCase c;
  c.name = fmt::format("discretized_logistic_nll {} {}", regime, shape_str(shape));
  c.shapes = {shape, shape};
  c.ranges = {mean, log_scale};
  c.op = [x, shape](const std::vector<Tensor>& in) {
    return discretized_logistic_nll(Tensor::from_vector(x, shape, in[0].dtype(), in[0].device()),
                                    in[0], in[1]);
  };
  c.reference = [x, shape](const std::vector<HostValues>& in) {
    const size_t N = static_cast<size_t>(shape[0]), S = x.size() / N;
    HostValues nll(N);
    for (size_t n = 0; n < N; ++n) {
      Real total = 0;
      for (size_t i = n * S; i < (n + 1) * S; ++i)
        total -= logistic_ref(x[i], in[0][i], in[1][i]);
      nll[n] = static_cast<double>(total);
    }
    return nll;
  };
  // float64: the kernel's closed form and the oracle's CDF difference agree to ~1e-16 per
  // nat of |log p| (observed 1.4e-16 relative on sums of up to ~3000 nats).
  c.f64_atol = 1e-12;
  c.f64_rtol = 1e-13;
  // float32: the sum is rounded once at the end (6e-8 relative, hence rtol 2e-7). Before that,
  // x is rounded to float (by up to 6e-8, moving log p by |d log p / dx| <= 1/s) and the
  // standardised edges (x - mean)/s round at 6e-8 relative: up to 1.2e-6 per term when
  // 1/s <= e^3 (typical, wide) and 6.6e-5 per term when 1/s <= e^7 (sharp), over <= 30 terms.
  c.f32_atol = log_scale.first < -4 ? 1e-3 : 5e-5;
  c.f32_rtol = 2e-7;
  return c;
}

HostValues nll_values(const Tensor& t) {
  return t.to_vector<double>();
}

}  // namespace

TEST_CASE("bernoulli nll matches its oracle and finite differences", "[ops][fused][vae]") {
  const std::vector<OpCase> cases = {
      bernoulli_case({3, 5}, -4.0, 4.0),
      bernoulli_case({3, 1, 5}, -12.0, 12.0),  // into saturation, both signs
  };
  for (const OpCase& c : cases)
    gm::test::check_op_case(c);
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
    dwant[i] = static_cast<double>(sigmoid_ref(l) - t);
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
  const std::vector<OpCase> cases = {
      // The VAE's working range.
      logistic_case("typical", {3, 2, 5}, {-1.2, 1.2}, {-3.0, 0.5}),
      // Sharp: log_scale at the decoder's clamp (-7); far bins lie hundreds of nats out, where
      // both CDFs round to 0 or 1 and a literal CDF difference gives log(0).
      logistic_case("sharp", {3, 10}, {-1.0, 1.0}, {-7.0, -5.0}),
      // Wide: bins 1e-3 to 1e-5 standard units across, where PixelCNN++ switches to the density
      // at the bin centre; here the same formula holds throughout.
      logistic_case("wide", {3, 10}, {-1.5, 1.5}, {1.0, 5.0}),
  };
  for (const OpCase& c : cases)
    gm::test::check_op_case(c);
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
      const Real want = std::log(sigmoid_ref(c) * sigmoid_ref(-c) / s * 2 / 255);
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

// PixelCNN++'s discretized logistic mixture: the likelihood against a long-double oracle and
// finite differences on every device, its normalisation (grey, and RGB through the coupled
// channels), and the sampler against the likelihood it samples.
#include <cmath>

#include "models/pixelcnnpp/logistic_mixture.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models;
using gm::test::HostValues;
using gm::test::OpCase;

namespace {

using Real = long double;

Real sigmoid_ref(Real t) {
  return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
}

// log P(bin of x) as a CDF difference, in long double. The difference is taken on the side of
// the mean where both CDF values are small (sigmoid(-b) - sigmoid(-a) right of it), so it keeps
// its digits in the tails; end bins take the tails; log-scales are clamped at -7.
Real log_bin_ref(Real x, Real mean, Real log_scale) {
  const Real s = std::exp(std::max(log_scale, Real(-7))), half = Real(1) / 255;
  const Real a = (x - mean + half) / s, b = (x - mean - half) / s;
  if (x < -1 + half) return std::log(sigmoid_ref(a));
  if (x > 1 - half) return std::log(sigmoid_ref(-b));
  return std::log(a + b > 0 ? sigmoid_ref(-b) - sigmoid_ref(-a) : sigmoid_ref(a) - sigmoid_ref(b));
}

// -log p(x) of one pixel: out holds the pixel's P planes (strided by `stride`), x its channels.
Real mixture_nll_ref(const double* out, size_t stride, const Real* x, size_t K, size_t C) {
  auto at = [&](size_t plane) { return static_cast<Real>(out[plane * stride]); };
  Real top = -INFINITY;
  for (size_t k = 0; k < K; ++k)
    top = std::max(top, at(k));
  Real norm = 0, total = 0;
  for (size_t k = 0; k < K; ++k)
    norm += std::exp(at(k) - top);
  for (size_t k = 0; k < K; ++k) {
    Real logp = at(k) - top - std::log(norm);
    for (size_t c = 0; c < C; ++c) {
      Real mean = at(K + k * C + c);
      const size_t coeff = K + 2 * K * C + 3 * k;
      if (c == 1) mean += std::tanh(at(coeff)) * x[0];
      if (c == 2) mean += std::tanh(at(coeff + 1)) * x[0] + std::tanh(at(coeff + 2)) * x[1];
      logp += log_bin_ref(x[c], mean, at(K + K * C + k * C + c));
    }
    total += std::exp(logp);
  }
  return -std::log(total);
}

// Levels of a test image, with both end bins present.
std::vector<int> test_levels(size_t count) {
  std::vector<int> v(count);
  for (size_t i = 0; i < count; ++i)
    v[i] = i % 7 == 0 ? 0 : (i % 7 == 1 ? 255 : static_cast<int>((i * 37 + 11) % 256));
  return v;
}

OpCase mixture_case(int64_t C, int64_t K) {
  const int64_t N = 2, H = 1, W = 3, P = mixture_planes(K, C);
  const Shape image{N, C, H, W};
  HostValues x;
  for (int v : test_levels(static_cast<size_t>(shape_numel(image))))
    x.push_back(v / 127.5 - 1.0);
  OpCase c;
  c.name = fmt::format("logistic mixture C={} K={}", C, K);
  c.shapes = {{N, P, H, W}};
  // Logits, means, log-scales and coefficients alike: scales e^-1.5 .. e^1 keep every bin's
  // probability between ~1e-9 and 1, far from float32's underflow.
  c.low = -1.5;
  c.high = 1.0;
  c.op = [x, image, K](const std::vector<Tensor>& in) {
    const Tensor xt = Tensor::from_vector(x, image, in[0].dtype(), in[0].device());
    return mixture_nll(mixture_params(in[0], xt, K), xt);
  };
  c.reference = [x, N, C, H, W, K, P](const std::vector<HostValues>& in) {
    HostValues nll(static_cast<size_t>(N), 0.0);
    const size_t S = static_cast<size_t>(H * W);
    for (size_t n = 0; n < static_cast<size_t>(N); ++n)
      for (size_t s = 0; s < S; ++s) {
        Real pixel[3];
        for (size_t ch = 0; ch < static_cast<size_t>(C); ++ch)
          pixel[ch] = x[(n * static_cast<size_t>(C) + ch) * S + s];
        nll[n] += static_cast<double>(mixture_nll_ref(&in[0][n * static_cast<size_t>(P) * S + s], S,
                                                      pixel, static_cast<size_t>(K),
                                                      static_cast<size_t>(C)));
      }
    return nll;
  };
  // Sums of 3 pixels of up to ~20 nats: float32 keeps ~1e-6 of each term, and the mixture's
  // log-sum-exp subtracts two sums of that size (logsumexp_sum in logistic_mixture.cpp).
  c.f32_atol = 3e-4;
  c.f32_rtol = 1e-5;
  // float64: the same subtraction costs a few ulps of ~100 nats.
  c.f64_atol = 1e-11;
  return c;
}

// out [n, P] with every row equal to `planes`.
Tensor rows_of(const HostValues& planes, int64_t n) {
  HostValues all;
  for (int64_t i = 0; i < n; ++i)
    all.insert(all.end(), planes.begin(), planes.end());
  return Tensor::from_vector(all, {n, static_cast<int64_t>(planes.size())}, DType::f64);
}

// p(x) for each of the images x [n, C] (levels), under one pixel's planes.
HostValues probabilities(const HostValues& planes, const std::vector<int>& levels, int64_t C,
                         int64_t K) {
  const int64_t n = static_cast<int64_t>(levels.size()) / C;
  HostValues x;
  for (int v : levels)
    x.push_back(v / 127.5 - 1.0);
  const Tensor xt = Tensor::from_vector(x, {n, C, 1, 1}, DType::f64);
  const Tensor out = reshape(rows_of(planes, n), {n, static_cast<int64_t>(planes.size()), 1, 1});
  HostValues p = mixture_nll(mixture_params(out, xt, K), xt).to_vector<double>();
  for (double& v : p)
    v = std::exp(-v);
  return p;
}

}  // namespace

TEST_CASE("logistic mixture NLL matches the oracle and finite differences on every device",
          "[pixelcnnpp][likelihood]") {
  for (const OpCase& c : {mixture_case(1, 3), mixture_case(3, 2)})
    gm::test::check_op_case(c);
}

TEST_CASE("logistic mixture probabilities sum to one, RGB coupling included",
          "[pixelcnnpp][likelihood]") {
  // Grey: the 256 levels of one pixel, a component in the top tail (its end bin takes it).
  const HostValues grey = {0.3, -0.4, -0.6, 0.95, std::log(0.1), std::log(0.08)};
  std::vector<int> all(256);
  for (int v = 0; v < 256; ++v)
    all[static_cast<size_t>(v)] = v;
  double total = 0;
  for (double p : probabilities(grey, all, 1, 2))
    total += p;
  // 256 terms of float64 log-probabilities: a few ulps each.
  CHECK(std::abs(total - 1.0) < 1e-12);

  // RGB: summing over every (G, B) must leave the marginal of R, which is the grey mixture of
  // the R parameters alone: the coupling moves G's and B's means but each stays a distribution.
  const HostValues rgb = {0.2,  -0.5,                          // logits
                          0.1,  -0.3, 0.4,  -0.7, 0.2,  0.6,   // means (k, c)
                          -1.5, -2.0, -1.0, -2.5, -1.2, -0.8,  // log scales (k, c)
                          0.9,  -1.3, 0.4,  -0.6, 2.0,  0.7};  // coefficients (k, j)
  const HostValues red = {0.2, -0.5, 0.1, -0.7, -1.5, -2.5};
  for (int r : {140, 255}) {
    std::vector<int> levels;
    for (int g = 0; g < 256; ++g)
      for (int b = 0; b < 256; ++b)
        levels.insert(levels.end(), {r, g, b});
    double marginal = 0;
    for (double p : probabilities(rgb, levels, 3, 2))
      marginal += p;
    // 65536 terms summed in order in double: relative 1e-12 is far above their rounding.
    CHECK(marginal == Approx(probabilities(red, {r}, 1, 2)[0]).epsilon(1e-12));
  }
}

TEST_CASE("logistic mixture samples follow the distribution the likelihood scores",
          "[pixelcnnpp][likelihood][sampling]") {
  const HostValues grey = {0.3, -0.4, -0.6, 0.95, std::log(0.1), std::log(0.08)};
  const int64_t draws = 20000;
  Generator gen(3);
  const std::vector<uint8_t> drawn =
      mixture_sample(rows_of(grey, draws), 2, 1, 1.0, gen).to_vector<uint8_t>();
  std::vector<int> all(256);
  for (int v = 0; v < 256; ++v)
    all[static_cast<size_t>(v)] = v;
  const HostValues p = probabilities(grey, all, 1, 2);
  HostValues seen(256, 0.0);
  for (uint8_t v : drawn)
    seen[v] += 1.0 / static_cast<double>(draws);
  double tv = 0;
  for (size_t v = 0; v < 256; ++v)
    tv += 0.5 * std::abs(seen[v] - p[v]);
  // Total variation between 20000 draws and their distribution (~70 levels carry its mass):
  // its expectation is ~0.02, so 0.05 fails only for a sampler off in the distribution itself
  // (a wrong scale, the tail bin not taken, a swapped component: each moves it past 0.1).
  CHECK(tv < 0.05);
  // The top bin takes the tail of the component at 0.95: ~1/4 of 40% of the draws.
  CHECK(seen[255] == Approx(p[255]).margin(0.01));

  // Same seed, same draws; another seed, others.
  Generator a(5), b(5), c(6);
  const Tensor x = mixture_sample(rows_of(grey, 50), 2, 1, 1.0, a);
  CHECK(x.to_vector<int>() == mixture_sample(rows_of(grey, 50), 2, 1, 1.0, b).to_vector<int>());
  CHECK(x.to_vector<int>() != mixture_sample(rows_of(grey, 50), 2, 1, 1.0, c).to_vector<int>());
}

TEST_CASE("a cold mixture sample is the top component's coupled mean, channel by channel",
          "[pixelcnnpp][likelihood][sampling]") {
  // Temperature 1e-6 picks the component with the larger logit (the other has weight
  // e^-(0.7/1e-6)) and moves each channel by at most 1e-6 x scale x ~40 from its mean: far
  // less than the half-level 1/255 that would change the rounding.
  const HostValues rgb = {-0.5, 0.2,                           // component 1 wins
                          0.1,  -0.3, 0.4,  0.37, -0.2, 0.05,  // means
                          -1.5, -2.0, -1.0, -2.5, -1.2, -0.8,  // log scales
                          0.9,  -1.3, 0.4,  -0.6, 2.0,  0.7};  // coefficients
  Generator gen(9);
  const std::vector<uint8_t> v =
      mixture_sample(rows_of(rgb, 4), 2, 3, 1e-6, gen).to_vector<uint8_t>();
  auto level = [](double x) { return static_cast<uint8_t>(std::lround((x + 1.0) * 127.5)); };
  const double r = level(0.37) / 127.5 - 1.0;
  const double g = level(-0.2 + std::tanh(-0.6) * r) / 127.5 - 1.0;
  const double b = 0.05 + std::tanh(2.0) * r + std::tanh(0.7) * g;
  for (int64_t n = 0; n < 4; ++n) {
    CHECK(v[static_cast<size_t>(3 * n)] == level(0.37));
    CHECK(v[static_cast<size_t>(3 * n + 1)] == level(g));
    CHECK(v[static_cast<size_t>(3 * n + 2)] == level(b));
  }
  CHECK_THROWS_WITH(mixture_sample(rows_of(rgb, 1), 2, 3, 0.0, gen),
                    Catch::Contains("temperature"));
  CHECK_THROWS_WITH(mixture_sample(rows_of(rgb, 1), 3, 3, 1.0, gen), Catch::Contains("[N, 30]"));
}

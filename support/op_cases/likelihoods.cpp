// Bernoulli-logit and discretized-logistic NLLs: scalar oracles in long double.
#include "support/op_cases/oracles.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/ops.h"

namespace gm::catalogue {

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

// log P(bin of x) from the definition: the logistic CDF at the bin's edges, end bins taking
// the tails. The middle difference is taken on the side of the mean where both CDFs are small
// (sigmoid(a) - sigmoid(b) = sigmoid(-b) - sigmoid(-a)), so long double loses only the
// 1 / (bin width) factor of the subtraction itself.
Real logistic_ref(Real x, Real mean, Real log_scale) {
  const Real s = std::exp(log_scale), half = Real(1) / 255;
  Real a = (x + half - mean) / s, b = (x - half - mean) / s;
  if (x < -1 + half) return std::log(sigmoid_ld(a));
  if (x > 1 - half) return std::log(sigmoid_ld(-b));
  if (a + b > 0) {
    const Real flipped_a = -b;
    b = -a;
    a = flipped_a;
  }
  return std::log(sigmoid_ld(a) - sigmoid_ld(b));
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

}  // namespace

void add_likelihood_cases(std::vector<OpCase>& to) {
  add_cases(to, "bernoulli_nll", {"bernoulli_nll_forward", "bernoulli_nll_backward"},
            {
                bernoulli_case({3, 5}, -4.0, 4.0),
                bernoulli_case({3, 1, 5}, -12.0, 12.0),  // into saturation, both signs
            });
  add_cases(to, "discretized_logistic_nll",
            {"discretized_logistic_nll_forward", "discretized_logistic_nll_backward"},
            {
                // The VAE's working range.
                logistic_case("typical", {3, 2, 5}, {-1.2, 1.2}, {-3.0, 0.5}),
                // Sharp: log_scale at the decoder's clamp (-7); far bins lie hundreds of nats out,
                // where both CDFs round to 0 or 1 and a literal CDF difference gives log(0).
                logistic_case("sharp", {3, 10}, {-1.0, 1.0}, {-7.0, -5.0}),
                // Wide: bins 1e-3 to 1e-5 standard units across, where PixelCNN++ switches to the
                // density at the bin centre; here the same formula holds throughout.
                logistic_case("wide", {3, 10}, {-1.5, 1.5}, {1.0, 5.0}),
            });
}

}  // namespace gm::catalogue

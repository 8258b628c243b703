// Softmax cross-entropy over the values dim and categorical sampling: scalar oracles, finite
// differences, the softmax - one-hot gradient, huge logits, determinism and frequencies.
#include <algorithm>
#include <cmath>

#include "support/op_cases/oracles.h"
#include "tests/support.h"

using namespace gm;
using gm::test::HostValues;
using namespace gm::catalogue;

namespace {

// The gradient the op must produce: dnll[n] * (softmax - one-hot), in long double.
HostValues softmax_minus_onehot(const HostValues& x, const std::vector<int32_t>& t,
                                const HostValues& dnll, const XentLayout& l) {
  HostValues g(x.size());
  for (int64_t n = 0; n < l.n; ++n) {
    for (int64_t s = 0; s < l.s; ++s) {
      auto idx = [&](int64_t v) { return static_cast<size_t>((n * l.v + v) * l.s + s); };
      long double m = x[idx(0)], sum = 0.0L;
      for (int64_t v = 1; v < l.v; ++v)
        m = std::max(m, static_cast<long double>(x[idx(v)]));
      for (int64_t v = 0; v < l.v; ++v)
        sum += std::exp(x[idx(v)] - m);
      for (int64_t v = 0; v < l.v; ++v) {
        const long double p = std::exp(x[idx(v)] - m) / sum;
        g[idx(v)] = static_cast<double>(dnll[n] * (p - (v == t[n * l.s + s] ? 1.0L : 0.0L)));
      }
    }
  }
  return g;
}

}  // namespace

TEST_CASE("softmax cross-entropy matches its oracle and finite differences", "[ops][fused]") {
  gm::test::check_op_cases("softmax_cross_entropy");
}

TEST_CASE("softmax cross-entropy gradient is dnll * (softmax - one-hot)", "[ops][fused]") {
  const Shape shape = {2, 256, 3};
  const XentLayout l = xent_layout(shape);
  const std::vector<int32_t> targets = xent_targets(l);
  const HostValues dnll = {1.0, -0.5};
  Generator gen(7);
  const Tensor x64 = Tensor::uniform(shape, -2.0, 2.0, gen, DType::f64);
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Tensor x = x64.to(dtype).to(device).detach().set_requires_grad();
      const Tensor t = Tensor::from_vector(targets, l.positions, DType::i32, device);
      softmax_cross_entropy(x, t).backward(Tensor::from_vector(dnll, {2}, dtype, device));
      const HostValues want = softmax_minus_onehot(x.to_vector<double>(), targets, dnll, l);
      // float32: each entry is exp (1 ulp) times a double 1/sum, rounded once: a few 1e-8.
      const double tol = dtype == DType::f64 ? 1e-15 : 1e-7;
      gm::test::require_close(x.grad().to_vector<double>(), want, tol, 0.0, "dlogits");
    }
  }
}

TEST_CASE("the statistics kept by the forward give the plain entries' results bit for bit",
          "[ops][fused]") {
  // S = 37: two tiles of 32 positions on CUDA, the second ragged; int32 and uint8 targets.
  const Shape shape = {3, 256, 37};
  const XentLayout l = xent_layout(shape);
  const std::vector<int32_t> targets = xent_targets(l);
  Generator gen(11);
  const Tensor x64 = Tensor::uniform(shape, -6.0, 6.0, gen, DType::f64);
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      for (DType target_dtype : {DType::i32, DType::u8}) {
        INFO(device.name() << " " << dtype_name(dtype) << " targets " << dtype_name(target_dtype));
        const Tensor x = x64.to(dtype).to(device);
        const Tensor t = Tensor::from_vector(targets, {l.n, l.s}, target_dtype, device);
        const Tensor dnll =
            Tensor::from_vector(std::vector<double>{1.0, -0.5, 2.0}, {3}, dtype, device);
        Backend& b = x.backend();
        Tensor nll = Tensor::zeros({l.n}, dtype, device);
        Tensor nll_kept = Tensor::zeros({l.n}, dtype, device);
        Tensor stats = Tensor::zeros({2, l.n, l.s}, DType::f64, device);
        b.softmax_xent_forward(x, t, nll);
        b.softmax_xent_forward_stats(x, t, nll_kept, stats);
        CHECK(nll_kept.to_vector<double>() == nll.to_vector<double>());
        Tensor d = Tensor::zeros(shape, dtype, device);
        Tensor d_kept = Tensor::zeros(shape, dtype, device);
        b.softmax_xent_backward(x, t, dnll, d);
        b.softmax_xent_backward_stats(x, t, stats, dnll, d_kept);
        CHECK(d_kept.to_vector<double>() == d.to_vector<double>());
        // The statistics themselves: the max is exact; the sum of exp(x - max) is within the
        // rounding of V exps (a few ulp of T each) summed in double, so 1e-6 relative for
        // float32 logits and 1e-13 for float64.
        const HostValues xs = x.to_vector<double>(), kept = stats.to_vector<double>();
        const double tol = dtype == DType::f64 ? 1e-13 : 1e-6;
        for (int64_t n = 0; n < l.n; ++n)
          for (int64_t s = 0; s < l.s; ++s) {
            auto at = [&](int64_t v) { return xs[static_cast<size_t>((n * l.v + v) * l.s + s)]; };
            double m = at(0);
            for (int64_t v = 1; v < l.v; ++v)
              m = std::max(m, at(v));
            long double sum = 0.0L;
            for (int64_t v = 0; v < l.v; ++v)
              sum += std::exp(static_cast<long double>(at(v)) - m);
            const size_t i = static_cast<size_t>(n * l.s + s);
            REQUIRE(kept[i] == m);
            REQUIRE(std::fabs(kept[static_cast<size_t>(l.n * l.s) + i] -
                              static_cast<double>(sum)) <= tol * static_cast<double>(sum));
          }
      }
    }
  }
}

TEST_CASE("softmax cross-entropy is stable for logits of +-1000", "[ops][fused]") {
  // Logits near +1000 and -1000: exp of either overflows or underflows unless the maximum is
  // subtracted first. Targets hit both large and small logits (a -1000 target costs ~2000 nats).
  const Shape shape = {2, 256, 3};
  const XentLayout l = xent_layout(shape);
  const std::vector<int32_t> targets = xent_targets(l);
  Generator gen(11);
  HostValues values = Tensor::uniform(shape, -1.0, 1.0, gen, DType::f64).to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i)
    values[i] += (i / 3) % 2 ? 1000.0 : -1000.0;
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Tensor x = Tensor::from_vector(values, shape, dtype, device).set_requires_grad();
      const HostValues seen = x.to_vector<double>();  // as rounded to dtype
      const Tensor nll =
          softmax_cross_entropy(x, Tensor::from_vector(targets, l.positions, DType::i32, device));
      // float32: the ~3000-nat sums round to ~2e-4; float64 to ~1e-12.
      const double rtol = dtype == DType::f64 ? 1e-13 : 2e-7;
      gm::test::require_close(nll.to_vector<double>(), xent_reference(seen, targets, l), 0.0, rtol,
                              "nll at +-1000");
      sum(nll).backward();
      const HostValues want = softmax_minus_onehot(seen, targets, {1.0, 1.0}, l);
      gm::test::require_close(x.grad().to_vector<double>(), want, 1e-6, 0.0, "dlogits at +-1000");
    }
  }
}

TEST_CASE("softmax cross-entropy rejects bad targets and shapes", "[ops][fused][errors]") {
  const Tensor logits = Tensor::zeros({2, 256, 3});
  std::vector<int32_t> bad(6, 5);
  bad[4] = 300;
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, Tensor::from_vector(bad, {2, 3})),
                      Catch::Contains("target value 300") && Catch::Contains("[1, 1]") &&
                          Catch::Contains("[0, 256)"));
  bad[4] = -1;
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, Tensor::from_vector(bad, {2, 3})),
                      Catch::Contains("target value -1"));
  // uint8 targets are checked whenever V < 256.
  REQUIRE_THROWS_WITH(
      softmax_cross_entropy(Tensor::zeros({2, 7, 3}), Tensor::full({2, 3}, 9.0, DType::u8)),
      Catch::Contains("target value 9") && Catch::Contains("[0, 7)"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, Tensor::zeros({2, 4}, DType::i32)),
                      Catch::Contains("[2, 4]") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(logits, Tensor::zeros({2, 3}, DType::f32)),
                      Catch::Contains("uint8 or int32"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(Tensor::zeros({5}), Tensor::zeros({5}, DType::i32)),
                      Catch::Contains("[N, V, positions...]"));
  REQUIRE_THROWS_WITH(softmax_cross_entropy(Tensor::zeros({2, 256, 3}, DType::u8),
                                            Tensor::zeros({2, 3}, DType::u8)),
                      Catch::Contains("float32 or float64"));
}

TEST_CASE("categorical samples are deterministic per seed and device", "[ops][fused][sampling]") {
  Generator data(3);
  const Tensor logits = Tensor::uniform({2, 256, 3, 5}, -2.0, 2.0, data, DType::f32);
  Generator a(42), b(42), c(43);
  const std::vector<int32_t> first = sample_categorical(logits, 1.0, a).to_vector<int32_t>();
  REQUIRE(sample_categorical(logits, 1.0, b).to_vector<int32_t>() == first);
  REQUIRE(sample_categorical(logits, 1.0, c).to_vector<int32_t>() != first);
  // The generator moved on by one counter per position: the next draw is a new one.
  REQUIRE(a.offset() == 30);
  REQUIRE(sample_categorical(logits, 1.0, a).to_vector<int32_t>() != first);
  for (Device device : gm::test::test_devices()) {
    INFO(device.name());
    Generator g(42);
    const Tensor s = sample_categorical(logits.to(device), 1.0, g);
    REQUIRE(s.shape() == Shape{2, 3, 5});
    REQUIRE(s.dtype() == DType::i32);
    REQUIRE(s.to_vector<int32_t>() == first);
  }
}

TEST_CASE("a tiny temperature samples the argmax", "[ops][fused][sampling]") {
  const Shape shape = {3, 256, 7};
  const XentLayout l = xent_layout(shape);
  Generator data(5);
  const Tensor logits = Tensor::uniform(shape, -1.0, 1.0, data, DType::f64);
  const HostValues x = logits.to_vector<double>();
  std::vector<int32_t> argmax(static_cast<size_t>(l.n * l.s));
  for (int64_t n = 0; n < l.n; ++n) {
    for (int64_t s = 0; s < l.s; ++s) {
      auto at = [&](int64_t v) { return x[static_cast<size_t>((n * l.v + v) * l.s + s)]; };
      int64_t best = 0;
      for (int64_t v = 1; v < l.v; ++v)
        if (at(v) > at(best)) best = v;
      double second = -INFINITY;
      for (int64_t v = 0; v < l.v; ++v)
        if (v != best) second = std::max(second, at(v));
      // The runner-up's weight is exp(-gap / temperature): negligible for gap >> 1e-6 * 40.
      REQUIRE(at(best) - second > 1e-4);
      argmax[static_cast<size_t>(n * l.s + s)] = static_cast<int32_t>(best);
    }
  }
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Generator g(9);
      REQUIRE(sample_categorical(logits.to(dtype).to(device), 1e-6, g).to_vector<int32_t>() ==
              argmax);
    }
  }
}

TEST_CASE("sample frequencies match softmax(logits / temperature)", "[ops][fused][sampling]") {
  // Every position of a [1, V, S] tensor holds the same logits, so the S draws are independent
  // samples of one distribution p (each position uses its own Philox counter). A count c_v of
  // value v is Binomial(S, p_v): standard deviation sqrt(S p_v (1 - p_v)). Accepting 5 standard
  // deviations makes a false failure for one value a 6e-7 event (1.5e-4 over 256 values); the
  // seeds are fixed, so the test is deterministic either way, while a wrong distribution (e.g.
  // a temperature ignored, or an off-by-one in the inverse CDF) misses by many deviations.
  auto check = [](const HostValues& column, double temperature, int64_t S, uint64_t seed) {
    const int64_t V = static_cast<int64_t>(column.size());
    HostValues values(static_cast<size_t>(V * S));
    for (int64_t v = 0; v < V; ++v)
      for (int64_t s = 0; s < S; ++s)
        values[static_cast<size_t>(v * S + s)] = column[static_cast<size_t>(v)];
    double m = column[0], total = 0.0;
    for (double c : column)
      m = std::max(m, c);
    for (double c : column)
      total += std::exp((c - m) / temperature);
    Generator g(seed);
    const std::vector<int32_t> draws =
        sample_categorical(Tensor::from_vector(values, {1, V, S}, DType::f32), temperature, g)
            .to_vector<int32_t>();
    std::vector<double> counts(static_cast<size_t>(V), 0.0);
    for (int32_t d : draws) {
      REQUIRE(d >= 0);
      REQUIRE(d < V);
      counts[static_cast<size_t>(d)] += 1.0;
    }
    for (int64_t v = 0; v < V; ++v) {
      const double p = std::exp((column[static_cast<size_t>(v)] - m) / temperature) / total;
      const double expected = p * static_cast<double>(S);
      const double sd = std::sqrt(static_cast<double>(S) * p * (1.0 - p));
      INFO("value " << v << " p " << p << " temperature " << temperature);
      CHECK(std::abs(counts[static_cast<size_t>(v)] - expected) <= 5.0 * sd);
    }
  };
  const HostValues six = {0.5, -1.0, 2.0, 0.0, 1.2, -0.3};
  check(six, 1.0, 30000, 1);
  check(six, 0.5, 30000, 2);
  check(six, 3.0, 30000, 3);
  Generator data(4);
  check(Tensor::uniform({256}, -2.0, 2.0, data, DType::f64).to_vector<double>(), 1.0, 30000, 5);
}

TEST_CASE("sampling rejects a non-positive temperature", "[ops][fused][errors]") {
  Generator g(1);
  const Tensor logits = Tensor::zeros({2, 256, 3});
  for (double t : {0.0, -1.0, double(NAN), double(INFINITY)})
    REQUIRE_THROWS_WITH(sample_categorical(logits, t, g), Catch::Contains("temperature"));
  REQUIRE_THROWS_WITH(sample_categorical(Tensor::zeros({4}), 1.0, g),
                      Catch::Contains("[N, V, positions...]"));
}

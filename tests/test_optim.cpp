// Optimizers against plain double loops written from the papers' formulas (with PyTorch's
// conventions), convergence on least squares, gradient clipping, and exact state round trips.
#include <cmath>
#include <functional>
#include <limits>
#include <memory>

#include "engine/autograd.h"
#include "engine/optim.h"
#include "tests/support.h"

using namespace gm;
using Catch::Matchers::Contains;
using gm::test::HostValues;

namespace {

// Makes param.grad() exactly `g` through autograd: d/dp sum(p * g) = g, with no rounding.
void set_grad(const Tensor& param, const Tensor& g) {
  Tensor p = param;
  p.zero_grad();
  sum(mul(p, g)).backward();
}

// ---- the oracle: one parameter's values and buffers in double

struct OracleParam {
  HostValues p, m, v, buf;
  int64_t step = 0;
};

struct AdamConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
};
struct SgdConfig {
  double lr, momentum, weight_decay;
  bool nesterov;
};

void adam_oracle(OracleParam& s, const HostValues& grad, const AdamConfig& c) {
  s.step += 1;
  const double t = static_cast<double>(s.step);
  for (size_t i = 0; i < s.p.size(); ++i) {
    double g = grad[i];
    if (!c.decoupled) g += c.weight_decay * s.p[i];  // Adam: L2 term in the gradient
    s.m[i] = c.beta1 * s.m[i] + (1 - c.beta1) * g;
    s.v[i] = c.beta2 * s.v[i] + (1 - c.beta2) * g * g;
    const double m_hat = s.m[i] / (1 - std::pow(c.beta1, t));
    const double v_hat = s.v[i] / (1 - std::pow(c.beta2, t));
    if (c.decoupled) s.p[i] *= 1 - c.lr * c.weight_decay;  // AdamW: decay the weight itself
    s.p[i] -= c.lr * m_hat / (std::sqrt(v_hat) + c.eps);
  }
}

void sgd_oracle(OracleParam& s, const HostValues& grad, const SgdConfig& c) {
  s.step += 1;
  for (size_t i = 0; i < s.p.size(); ++i) {
    double d = grad[i] + c.weight_decay * s.p[i];
    if (c.momentum != 0) {
      s.buf[i] = s.step == 1 ? d : c.momentum * s.buf[i] + d;  // PyTorch: first buffer = d
      d = c.nesterov ? d + c.momentum * s.buf[i] : s.buf[i];
    }
    s.p[i] -= c.lr * d;
  }
}

// One optimizer configuration: how to build it and its oracle (which receives the current lr).
struct Rule {
  std::string name;
  std::function<std::unique_ptr<Optimizer>(std::vector<NamedTensor>)> make;
  std::function<void(OracleParam&, const HostValues&, double lr)> oracle;
};

std::vector<Rule> rules() {
  std::vector<Rule> out;
  auto adam = [&](std::string name, AdamConfig c) {
    AdamOptions o{.lr = c.lr,
                  .beta1 = c.beta1,
                  .beta2 = c.beta2,
                  .eps = c.eps,
                  .weight_decay = c.weight_decay};
    out.push_back({name,
                   [o, c](std::vector<NamedTensor> ps) -> std::unique_ptr<Optimizer> {
                     if (c.decoupled) return std::make_unique<AdamW>(std::move(ps), o);
                     return std::make_unique<Adam>(std::move(ps), o);
                   },
                   [c](OracleParam& s, const HostValues& g, double lr) {
                     AdamConfig now = c;
                     now.lr = lr;
                     adam_oracle(s, g, now);
                   }});
  };
  auto sgd = [&](std::string name, SgdConfig c) {
    SgdOptions o{
        .lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay, .nesterov = c.nesterov};
    out.push_back({name,
                   [o](std::vector<NamedTensor> ps) -> std::unique_ptr<Optimizer> {
                     return std::make_unique<Sgd>(std::move(ps), o);
                   },
                   [c](OracleParam& s, const HostValues& g, double lr) {
                     SgdConfig now = c;
                     now.lr = lr;
                     sgd_oracle(s, g, now);
                   }});
  };
  // beta2 = 0.9 (not 0.999) makes the second moment's bias correction matter within 4 steps.
  adam("adam", {0.01, 0.9, 0.9, 1e-8, 0.0, false});
  adam("adam+l2", {0.01, 0.8, 0.95, 1e-3, 0.1, false});
  adam("adamw", {0.01, 0.9, 0.99, 1e-8, 0.1, true});
  sgd("sgd", {0.1, 0.0, 0.0, false});
  sgd("sgd+momentum", {0.1, 0.9, 0.0, false});
  sgd("sgd+nesterov+decay", {0.05, 0.8, 0.01, true});
  return out;
}

HostValues host(const Tensor& t) {
  return t.to_vector<double>();
}

}  // namespace

TEST_CASE("optimizers match a double oracle step by step", "[optim]") {
  // Parameter "a" gets a gradient every step, "b" only on even steps (so its own step count
  // drives its bias correction), "frozen" never (it must stay bit-identical).
  const Shape shape_a = {3, 5}, shape_b = {7};
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      for (const Rule& rule : rules()) {
        INFO(rule.name << " on " << device.name() << " in " << dtype_name(dtype));
        Generator gen(42);
        auto init = [&](const Shape& s) {
          return Tensor::uniform(s, -1, 1, gen, DType::f64).to(dtype).to(device);
        };
        Tensor a = init(shape_a).set_requires_grad();
        Tensor b = init(shape_b).set_requires_grad();
        Tensor frozen = init({2, 3}).set_requires_grad();
        const HostValues frozen_before = host(frozen);
        OracleParam oa{host(a), HostValues(15), HostValues(15), HostValues(15)};
        OracleParam ob{host(b), HostValues(7), HostValues(7), HostValues(7)};
        auto opt = rule.make({{"a", a}, {"b", b}, {"frozen", frozen}});
        double lr = opt->lr();
        for (int step = 1; step <= 4; ++step) {
          if (step == 3) {  // a schedule changing the rate mid-run
            lr *= 0.5;
            opt->set_lr(lr);
          }
          opt->zero_grad();
          const Tensor ga = init(shape_a), gb = init(shape_b);
          set_grad(a, ga);
          rule.oracle(oa, host(ga), lr);
          if (step % 2 == 0) {
            set_grad(b, gb);
            rule.oracle(ob, host(gb), lr);
          }
          opt->step();
        }
        // float64: the kernel and the oracle differ only in operation order (a few ulp).
        // float32: the kernel stores p, m, v rounded to float after every step (relative 6e-8
        // each), values are O(1) and 4 steps accumulate at most a few such roundings.
        const bool f32 = dtype == DType::f32;
        const double atol = f32 ? 1e-6 : 1e-14, rtol = f32 ? 1e-6 : 1e-12;
        gm::test::require_close(host(a), oa.p, atol, rtol, "parameter a");
        gm::test::require_close(host(b), ob.p, atol, rtol, "parameter b");
        REQUIRE(host(frozen) == frozen_before);
        CHECK(opt->step_count(0) == 4);
        CHECK(opt->step_count(1) == 2);
        CHECK(opt->step_count(2) == 0);
      }
    }
  }
}

TEST_CASE("Adam and SGD with momentum solve least squares", "[optim]") {
  // min_x mean((A x - y)^2) with A [9, 4] of full column rank and y = A x_true: the optimum is
  // x_true with loss 0.
  for (Device device : gm::test::test_devices()) {
    for (std::string kind : {"adam", "sgd+momentum"}) {
      INFO(kind << " on " << device.name());
      Generator gen(7);
      const Tensor A = Tensor::uniform({9, 4}, -1, 1, gen, DType::f32, device);
      const Tensor x_true = Tensor::uniform({4, 1}, -2, 2, gen, DType::f32, device);
      const Tensor y = matmul(A, x_true);
      Tensor x = Tensor::zeros({4, 1}, DType::f32, device).set_requires_grad();
      std::unique_ptr<Optimizer> opt;
      if (kind == "adam")
        opt = std::make_unique<Adam>(std::vector<NamedTensor>{{"x", x}}, AdamOptions{.lr = 0.05});
      else
        opt = std::make_unique<Sgd>(std::vector<NamedTensor>{{"x", x}},
                                    SgdOptions{.lr = 0.1, .momentum = 0.9});
      auto loss_fn = [&] { return mean(square(sub(matmul(A, x), y))); };
      const double initial = loss_fn().item();
      for (int i = 0; i < 600; ++i) {
        opt->zero_grad();
        loss_fn().backward();
        opt->step();
      }
      const double final_loss = loss_fn().item();
      INFO("loss " << initial << " -> " << final_loss);
      // Both converge on this well-conditioned problem (measured: Adam to ~3e-11 of the initial
      // loss, SGD to ~2e-15); 1e-8 leaves a wide margin and is far from any broken update.
      CHECK(final_loss < 1e-8 * initial);
      gm::test::require_close(host(x), host(x_true), 1e-3, 0, "x");
    }
  }
}

TEST_CASE("clip_grad_norm scales the global norm to max_norm", "[optim]") {
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Generator gen(3);
      Tensor a = Tensor::zeros({3, 5}, dtype, device).set_requires_grad();
      Tensor b = Tensor::zeros({7}, dtype, device).set_requires_grad();
      Tensor no_grad = Tensor::zeros({2}, dtype, device).set_requires_grad();
      const Tensor ga = Tensor::uniform({3, 5}, -2, 2, gen, dtype, device);
      const Tensor gb = Tensor::uniform({7}, -2, 2, gen, dtype, device);
      set_grad(a, ga);
      set_grad(b, gb);
      const std::vector<NamedTensor> params = {{"a", a}, {"b", b}, {"none", no_grad}};
      double sq = 0;
      for (const Tensor& g : {ga, gb})
        for (double v : host(g))
          sq += v * v;
      const double want_norm = std::sqrt(sq);
      // float32: squares are rounded to float (relative 6e-8) and their sums rounded once.
      const double rtol = dtype == DType::f32 ? 1e-6 : 1e-13;

      // Below the threshold nothing changes, bit for bit.
      CHECK(clip_grad_norm(params, want_norm * 2) == Approx(want_norm).epsilon(rtol));
      REQUIRE(host(a.grad()) == host(ga));

      const double max_norm = want_norm / 3;
      const double before = clip_grad_norm(params, max_norm);
      CHECK(before == Approx(want_norm).epsilon(rtol));
      CHECK(grad_norm(params) == Approx(max_norm).epsilon(rtol));
      const double scale = max_norm / want_norm;
      for (auto [param, g] : {std::pair{a, ga}, std::pair{b, gb}}) {
        HostValues want = host(g);
        for (double& v : want)
          v *= scale;
        gm::test::require_close(host(param.grad()), want, 0, 2 * rtol, "clipped gradient");
      }
      CHECK_FALSE(no_grad.grad().defined());
    }
  }
}

TEST_CASE("clip_grad_norm leaves gradients alone when the norm is not finite", "[optim]") {
  Tensor a = Tensor::zeros({3}).set_requires_grad();
  const HostValues g = {1.0, std::numeric_limits<double>::infinity(), 2.0};
  set_grad(a, Tensor::from_vector(g, {3}, DType::f32));
  const double norm = clip_grad_norm({{"a", a}}, 1.0);
  CHECK(std::isinf(norm));
  CHECK(host(a.grad()) == g);
  CHECK_THROWS_WITH(clip_grad_norm({{"a", a}}, 0.0), Contains("max_norm must be finite and > 0"));
}

TEST_CASE("optimizer state round trip continues bit for bit", "[optim]") {
  for (Device device : gm::test::test_devices()) {
    for (const Rule& rule : rules()) {
      if (rule.name == "sgd") continue;  // no buffers: nothing to lose
      INFO(rule.name << " on " << device.name());
      Generator gen(11);
      const Tensor start = Tensor::uniform({3, 5}, -1, 1, gen, DType::f32, device);
      std::vector<Tensor> grads;
      for (int i = 0; i < 6; ++i)
        grads.push_back(Tensor::uniform({3, 5}, -1, 1, gen, DType::f32, device));

      Tensor p = start.clone().set_requires_grad();
      auto opt = rule.make({{"w", p}});
      for (int i = 0; i < 3; ++i) {
        set_grad(p, grads[i]);
        opt->step();
      }
      const OptimizerState saved = opt->state();
      const Tensor saved_weights = p.clone();
      for (int i = 3; i < 6; ++i) {
        set_grad(p, grads[i]);
        opt->step();
      }
      // state() is a snapshot: later steps did not change it.
      const Tensor later_buffer = opt->state().tensors.at(0).tensor;
      REQUIRE(host(saved.tensors.at(0).tensor) != host(later_buffer));

      // A new optimizer on the saved weights, with the saved state, takes the same steps.
      auto run_from_checkpoint = [&](bool restore) {
        Tensor q = saved_weights.clone().set_requires_grad();
        auto resumed = rule.make({{"w", q}});
        if (restore) resumed->load_state(saved);
        for (int i = 3; i < 6; ++i) {
          set_grad(q, grads[i]);
          resumed->step();
        }
        return host(q);
      };
      CHECK(run_from_checkpoint(true) == host(p));
      // ...and the state is what makes the difference.
      CHECK(run_from_checkpoint(false) != host(p));
    }
  }
}

TEST_CASE("load_state rejects state that does not fit", "[optim]") {
  Tensor w = Tensor::zeros({3, 5}).set_requires_grad();
  Tensor bias = Tensor::zeros({5}).set_requires_grad();
  Adam adam({{"w", w}, {"bias", bias}}, {});
  const OptimizerState good = adam.state();

  AdamW adamw({{"w", w}, {"bias", bias}});
  CHECK_THROWS_WITH(adamw.load_state(good),
                    Contains("optimizer state is for 'adam', but this optimizer is 'adamw'"));

  OptimizerState missing = good;
  missing.tensors.erase(missing.tensors.begin());
  CHECK_THROWS_WITH(adam.load_state(missing),
                    Contains("missing tensor 'adam.m.w' (expected float32[3, 5] on cpu)"));

  OptimizerState wrong_shape = good;
  wrong_shape.tensors[1].tensor = Tensor::zeros({15});
  CHECK_THROWS_WITH(adam.load_state(wrong_shape),
                    Contains("tensor 'adam.v.w' is float32[15] on cpu, expected float32[3, 5]"));

  OptimizerState extra = good;
  extra.tensors.push_back({"adam.m.gone", Tensor::zeros({2})});
  extra.tensors.push_back({"conv.weight", Tensor::zeros({2})});  // someone else's: ignored
  CHECK_THROWS_WITH(adam.load_state(extra), Contains("unexpected tensor 'adam.m.gone'"));

  OptimizerState no_step = good;
  no_step.scalars.erase("adam.step.bias");
  CHECK_THROWS_WITH(adam.load_state(no_step), Contains("no key 'adam.step.bias'"));

  // Nothing was changed by the failed loads, and the good state still loads.
  CHECK_NOTHROW(adam.load_state(good));
}

TEST_CASE("optimizer constructors reject bad parameters and options", "[optim]") {
  Tensor w = Tensor::zeros({2}).set_requires_grad();
  CHECK_THROWS_WITH(Adam({{"w", w}, {"w", Tensor::zeros({2})}}, {}),
                    Contains("parameter name 'w' appears twice"));
  CHECK_THROWS_WITH(Adam({{"w", w}, {"v", w}}, {}), Contains("same tensor as another parameter"));
  CHECK_THROWS_WITH(Sgd({{"w", w}}, {.nesterov = true}), Contains("nesterov momentum needs"));
  CHECK_THROWS_WITH(Adam({{"w", w}}, {.beta2 = 1.0}), Contains("beta2 must be in [0, 1)"));
  CHECK_THROWS_WITH(Adam({{"w", Tensor::zeros({2}, DType::i32)}}, {}),
                    Contains("not floating point"));
  CHECK_THROWS_WITH(Adam({{"w", mul_scalar(w, 2.0)}}, {}), Contains("not a leaf tensor"));
}

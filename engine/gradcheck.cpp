#include "engine/gradcheck.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace gm {

bool GradcheckReport::passed() const {
  for (const auto& r : inputs)
    if (!r.passed) return false;
  return true;
}

std::string GradcheckReport::table() const {
  std::string out =
      fmt::format("{:<16} {:>8} {:>12} {:>12} {:>10} {:>8} {:>14} {:>14}  {}\n", "input", "elems",
                  "max abs err", "max rel err", "atol", "worst", "analytic", "numeric", "result");
  int64_t kinks = 0;
  for (const auto& r : inputs) {
    out += fmt::format("{:<16} {:>8} {:>12.3e} {:>12.3e} {:>10.1e} {:>8} {:>14.7g} {:>14.7g}  {}\n",
                       r.name, r.elements, r.max_abs_error, r.max_rel_error, r.atol, r.worst_index,
                       r.worst_analytic, r.worst_numeric, r.passed ? "pass" : "FAIL");
    kinks += r.kinks;
  }
  if (kinks > 0)
    out += fmt::format(
        "{} element(s) not compared: their +-eps step crossed a kink (ReLU at 0), where the "
        "central difference averages two slopes\n",
        kinks);
  return out;
}

GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const std::vector<std::string>& names, const GradcheckOptions& opt) {
  GM_CHECK(names.size() == inputs.size(), "gradcheck: {} names for {} inputs", names.size(),
           inputs.size());
  std::vector<std::vector<double>> host;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GM_CHECK(inputs[i].dtype() == DType::f64,
             "gradcheck: input '{}' is {}; finite differences need float64", names[i],
             inputs[i].describe());
    host.push_back(inputs[i].to_vector<double>());
  }
  auto make_inputs = [&](bool requires_grad) {
    std::vector<Tensor> xs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor t = Tensor::from_vector(host[i], inputs[i].shape(), DType::f64, inputs[i].device());
      if (requires_grad) t.set_requires_grad();
      xs.push_back(t);
    }
    return xs;
  };

  // Output directions: one-hot rows of the Jacobian, or fixed random projections.
  Tensor y0;
  {
    NoGradGuard no_grad;
    y0 = f(make_inputs(false));
  }
  GM_CHECK(y0.dtype() == DType::f64, "gradcheck: f returned {}, expected float64", y0.describe());
  const int64_t outputs = y0.numel();
  const bool full = outputs <= opt.full_jacobian_max_outputs;
  const int64_t directions = full ? outputs : opt.projections;
  std::vector<std::vector<double>> seeds;
  Generator gen(opt.seed);
  for (int64_t k = 0; k < directions; ++k) {
    if (full) {
      std::vector<double> onehot(static_cast<size_t>(outputs), 0.0);
      onehot[static_cast<size_t>(k)] = 1.0;
      seeds.push_back(onehot);
    } else {
      seeds.push_back(Tensor::uniform(y0.shape(), -1.0, 1.0, gen, DType::f64).to_vector<double>());
    }
  }
  auto project = [&](const Tensor& y, const std::vector<double>& s) {
    const std::vector<double> v = y.to_vector<double>();
    double acc = 0.0;
    for (size_t i = 0; i < v.size(); ++i)
      acc += v[i] * s[i];
    return acc;
  };

  GradcheckReport report;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GradcheckResult r;
    r.name = names[i];
    r.elements = static_cast<int64_t>(host[i].size());
    report.inputs.push_back(r);
  }
  for (const auto& s : seeds) {
    // Analytic: vector-Jacobian product for this direction.
    std::vector<Tensor> xs = make_inputs(true);
    Tensor y = f(xs);
    y.backward(Tensor::from_vector(s, y.shape(), DType::f64, y.device()));
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<double> analytic = xs[i].grad().defined()
                                         ? xs[i].grad().to_vector<double>()
                                         : std::vector<double>(host[i].size(), 0.0);
      GradcheckResult& r = report.inputs[i];
      for (size_t j = 0; j < host[i].size(); ++j) {
        const double saved = host[i][j];
        double numeric;
        {
          NoGradGuard no_grad;
          host[i][j] = saved + opt.eps;
          const double plus = project(f(make_inputs(false)), s);
          host[i][j] = saved - opt.eps;
          const double minus = project(f(make_inputs(false)), s);
          numeric = (plus - minus) / (2.0 * opt.eps);
        }
        host[i][j] = saved;
        r.add_element(static_cast<int64_t>(j), analytic[j], numeric, opt.atol, opt.rtol);
      }
    }
  }
  return report;
}

void GradcheckResult::add_element(int64_t index, double analytic, double numeric, double tolerance,
                                  double rtol, bool at_kink) {
  atol = tolerance;
  const double err = std::abs(analytic - numeric);
  const bool within = err <= tolerance + rtol * std::abs(numeric);
  if (!within && at_kink) {
    ++kinks;
    return;
  }
  if (!within) passed = false;
  if (err > max_abs_error || worst_index < 0 || std::isnan(err)) {
    max_abs_error = std::isnan(err) ? INFINITY : err;
    worst_index = index;
    worst_analytic = analytic;
    worst_numeric = numeric;
  }
  max_rel_error = std::max(max_rel_error, err / std::max(std::abs(numeric), tolerance));
}

}  // namespace gm

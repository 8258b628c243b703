#include "models/model_gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/random.h"

namespace gm::models {

namespace {

// Which elements of a tensor of `n` elements to check: all, or a seeded sample without repeats.
std::vector<int64_t> elements_to_check(int64_t n, int64_t limit, Generator& gen) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (n <= limit) return all;
  const std::vector<double> u = Tensor::uniform({n}, 0.0, 1.0, gen, DType::f64).to_vector<double>();
  std::sort(all.begin(), all.end(), [&](int64_t a, int64_t b) {
    return u[static_cast<size_t>(a)] < u[static_cast<size_t>(b)];
  });
  all.resize(static_cast<size_t>(limit));
  std::sort(all.begin(), all.end());
  return all;
}

// A kink between p - eps and p + eps: the one-sided slopes differ by far more than rounding
// (a smooth loss has forward - backward = eps f'' ~ 1e-6 |f''|), and autograd's value is one
// of them (it takes the side where p lies). `atol` is the one-sided rounding floor.
bool at_kink(double analytic, double forward, double backward, double atol, double rtol) {
  auto close = [&](double a, double b) { return std::abs(a - b) <= atol + rtol * std::abs(b); };
  return !close(forward, backward) && (close(analytic, forward) || close(analytic, backward));
}

}  // namespace

GradcheckReport gradcheck_parameters(const std::vector<nn::NamedTensor>& parameters,
                                     const std::function<Tensor()>& loss,
                                     const ModelGradcheckOptions& options) {
  const GradcheckOptions& tol = options.tolerances;
  for (const nn::NamedTensor& p : parameters)
    GM_CHECK(p.tensor.dtype() == DType::f64,
             "model gradcheck: parameter '{}' is {}; build the model in float64 for finite "
             "differences",
             p.name, p.tensor.describe());

  // Analytic gradients from one backward pass.
  for (const nn::NamedTensor& p : parameters) {
    Tensor t = p.tensor;
    t.zero_grad();
  }
  Tensor value = loss();
  GM_CHECK(value.numel() == 1, "model gradcheck: the loss must be a scalar, got {}",
           value.describe());
  value.backward();
  const double loss0 = value.item();
  constexpr double u = std::numeric_limits<double>::epsilon();
  const double atol = tol.atol + options.rounding_margin * u * std::abs(loss0) / tol.eps;

  // The differences are taken in the grad mode of the analytic pass: a model may behave
  // differently without gradients (PixelCNN++ drops units only while training), and both sides
  // must differentiate the same function. The graphs they record are dropped at once.
  Generator gen(tol.seed);
  GradcheckReport report;
  for (const nn::NamedTensor& p : parameters) {
    Tensor t = p.tensor;
    const std::vector<double> analytic =
        t.grad().defined() ? t.grad().to_vector<double>()
                           : std::vector<double>(static_cast<size_t>(t.numel()), 0.0);
    std::vector<double> host = t.to_vector<double>();
    auto evaluate = [&] {
      t.copy_from(Tensor::from_vector(host, t.shape(), DType::f64));
      return loss().item();
    };

    GradcheckResult r;
    r.name = p.name;
    r.elements = t.numel();
    for (int64_t j : elements_to_check(t.numel(), options.max_elements_per_tensor, gen)) {
      const size_t k = static_cast<size_t>(j);
      const double saved = host[k];
      host[k] = saved + tol.eps;
      const double plus = evaluate();
      host[k] = saved - tol.eps;
      const double minus = evaluate();
      host[k] = saved;
      const double numeric = (plus - minus) / (2.0 * tol.eps);
      const double forward = (plus - loss0) / tol.eps, backward = (loss0 - minus) / tol.eps;
      r.add_element(j, analytic[k], numeric, atol, tol.rtol,
                    at_kink(analytic[k], forward, backward, 2 * atol, tol.rtol));
    }
    t.copy_from(Tensor::from_vector(host, t.shape(), DType::f64));  // restore exactly
    t.zero_grad();
    report.inputs.push_back(r);
  }
  return report;
}

}  // namespace gm::models

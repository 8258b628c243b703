#pragma once
// Whole-model gradient check: autograd's gradient of a scalar loss with respect to every
// parameter tensor of a model, against central finite differences (f(p + e) - f(p - e)) / 2e
// taken by perturbing the parameter in place. The report has one row per parameter tensor, in
// the same format as engine/gradcheck.h's (the `genmodel gradcheck` table).
//
// The loss must be deterministic across calls: a model that draws noise (the VAE's epsilon,
// dynamic binarisation) must draw it from a generator re-created with the same seed inside
// `loss`. Parameters must be float64 for the differences to be meaningful.
#include <functional>

#include "engine/gradcheck.h"
#include "models/nn.h"

namespace gm::models {

// The tolerance grows with the loss (docs/gradcheck.md derives it): each of the two loss values
// of a central difference carries a rounding error of about u |L| (u = 2^-52, times a factor
// for the many terms summed into L), and their difference is divided by 2 eps, so a correct
// gradient can be off by ~u |L| / eps: 3.5e-8 for |L| = 160 nats. An element passes when
//   |analytic - numeric| <= atol + rounding_margin * u * |L| / eps + rtol * |numeric|.
// A parameter whose +-eps step moves a ReLU pre-activation across 0 (a kink) has a central
// difference that averages the two sides' slopes: such an element is recognised by one-sided
// differences that disagree while the analytic value matches one of them, and is counted as a
// kink instead of a failure (GradcheckResult::kinks).
struct ModelGradcheckOptions {
  GradcheckOptions tolerances;  // eps, atol, rtol (engine/gradcheck.h explains the defaults)
  double rounding_margin = 32;
  // Tensors with more elements are checked on this many elements drawn with `tolerances.seed`
  // (each element costs two evaluations of the loss).
  int64_t max_elements_per_tensor = 48;
};

GradcheckReport gradcheck_parameters(const std::vector<nn::NamedTensor>& parameters,
                                     const std::function<Tensor()>& loss,
                                     const ModelGradcheckOptions& options = {});

}  // namespace gm::models

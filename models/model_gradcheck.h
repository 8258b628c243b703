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

struct ModelGradcheckOptions {
  GradcheckOptions tolerances;  // eps, atol, rtol (engine/gradcheck.h explains the defaults)
  // Tensors with more elements are checked on this many elements drawn with `tolerances.seed`
  // (each element costs two evaluations of the loss).
  int64_t max_elements_per_tensor = 48;
};

GradcheckReport gradcheck_parameters(const std::vector<nn::NamedTensor>& parameters,
                                     const std::function<Tensor()>& loss,
                                     const ModelGradcheckOptions& options = {});

}  // namespace gm::models

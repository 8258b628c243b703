#pragma once
// Finite-difference gradient checks. For a function f of float64 tensors, compares the
// autograd Jacobian with central differences (f(x + e) - f(x - e)) / 2e, element by element.
//
// Tolerances (docs/gradcheck.md): with e = 1e-6 in float64 the central difference has
// truncation error ~ e^2 |f'''| / 6 ~ 1e-12 and rounding error ~ 1e-16 |f| / e ~ 1e-10 |f|,
// so |analytic - numeric| <= atol + rtol |numeric| with atol = 1e-7, rtol = 1e-5 leaves a wide
// margin for well-scaled functions while still catching any wrong term (errors of 1e-2 and up).
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gm {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  // Outputs with at most this many elements get the full Jacobian (one backward per output);
  // larger ones are projected on fixed random directions (`projections` backward passes).
  int64_t full_jacobian_max_outputs = 64;
  int projections = 3;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  std::string name;  // the input's name
  int64_t elements = 0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // |a - n| / max(|n|, atol)
  int64_t worst_index = -1;    // flat index of the element with the worst abs error
  double worst_analytic = 0.0, worst_numeric = 0.0;
  double atol = 0.0;  // the absolute tolerance used (model checks scale it with the loss)
  int64_t kinks = 0;  // elements whose finite difference straddled a kink (not compared)
  bool passed = true;

  // Records one checked element: passes when |analytic - numeric| <= atol + rtol |numeric|; a
  // NaN error fails and counts as the worst (infinite) one. An element outside the tolerance
  // that is `at_kink` is counted as a kink instead (its central difference averages two slopes
  // by construction).
  void add_element(int64_t index, double analytic, double numeric, double atol, double rtol,
                   bool at_kink = false);
};

struct GradcheckReport {
  std::vector<GradcheckResult> inputs;
  bool passed() const;
  std::string table() const;  // one row per input: elements, errors, worst element, pass/fail
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs` must be float64 (any device). They are copied; f receives fresh leaves requiring
// grad. Non-differentiable arguments (targets, indices) are captured by f instead.
GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const std::vector<std::string>& names,
                          const GradcheckOptions& options = {});

}  // namespace gm

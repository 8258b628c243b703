// The VAE's Gaussian ops: reparameterised sample and closed-form KL, against scalar oracles.
#include "support/op_catalogue.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/random.h"
#include "kernels/common/philox.h"

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

constexpr uint64_t kSeed = 77;

OpCase sample_case(const Shape& shape) {
  OpCase c;
  c.name = fmt::format("gaussian_sample {}", shape_str(shape));
  c.shapes = {shape, shape};
  c.ranges = {{-1.5, 1.5}, {-3.0, 1.0}};  // mu, logvar
  // A fresh generator per call: every evaluation (and every finite difference) sees one eps.
  c.op = [](const std::vector<Tensor>& x) {
    Generator gen(kSeed);
    return gaussian_sample(x[0], x[1], gen);
  };
  // eps is by definition the Philox normal of the generator's counters 0, 1, ...
  c.reference = [](const std::vector<HostValues>& x) {
    HostValues z(x[0].size());
    for (size_t i = 0; i < z.size(); ++i)
      z[i] = x[0][i] + philox::normal(kSeed, 0, i) * std::exp(0.5 * x[1][i]);
    return z;
  };
  return c;
}

OpCase kl_case(const Shape& shape) {
  OpCase c;
  c.name = fmt::format("kl_std_normal {}", shape_str(shape));
  c.shapes = {shape, shape};
  c.ranges = {{-2.0, 2.0}, {-4.0, 1.5}};  // mu, logvar
  c.op = [](const std::vector<Tensor>& x) { return kl_std_normal(x[0], x[1]); };
  c.reference = [shape](const std::vector<HostValues>& x) {
    const size_t N = static_cast<size_t>(shape[0]), D = x[0].size() / N;
    HostValues kl(N, 0.0);
    for (size_t n = 0; n < N; ++n)
      for (size_t d = n * D; d < (n + 1) * D; ++d)
        kl[n] += -0.5 * (1.0 + x[1][d] - x[0][d] * x[0][d] - std::exp(x[1][d]));
    return kl;
  };
  // Sums of up to 21 terms of order one, rounded once to float32 at the end.
  c.f32_atol = 1e-5;
  return c;
}

}  // namespace

void add_gaussian_cases(std::vector<OpCase>& to) {
  add_cases(to, "gaussian_sample", {"gaussian_sample_forward", "gaussian_sample_backward"},
            {sample_case({3, 5}), sample_case({2, 3, 7})});
  add_cases(to, "kl_std_normal", {"kl_std_normal_forward", "kl_std_normal_backward"},
            {kl_case({3, 5}), kl_case({3, 7}), kl_case({2, 3, 7})});  // trailing dims: D = 21
}

}  // namespace gm::catalogue

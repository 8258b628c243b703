// The VAE's Gaussian ops: reparameterised sample and closed-form KL to N(0, I).
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace gm {

namespace {

void check_pair(std::string_view op, const Tensor& mu, const Tensor& logvar) {
  check_floating(op, mu);
  check_same_device(op, mu, logvar);
  check_same_dtype(op, mu, logvar);
  check_shape(op, "logvar", logvar, mu.shape());
}

}  // namespace

Tensor gaussian_sample(const Tensor& mu, const Tensor& logvar, Generator& gen) {
  const char* op = "gaussian_sample";
  check_pair(op, mu, logvar);
  Tensor eps = Tensor::empty(mu.shape(), mu.dtype(), mu.device());
  Tensor z = Tensor::empty(mu.shape(), mu.dtype(), mu.device());
  const uint64_t offset = gen.advance(static_cast<uint64_t>(mu.numel()));
  if (mu.numel() > 0)
    mu.backend().gaussian_sample_forward(mu.detach(), logvar.detach(), gen.seed(), offset, eps, z);

  record(op, {mu, logvar}, {&z}, [mu, logvar, eps](const std::vector<Tensor>& g) {
    Tensor dmu = Tensor::empty(mu.shape(), mu.dtype(), mu.device());
    Tensor dlogvar = Tensor::empty(mu.shape(), mu.dtype(), mu.device());
    if (mu.numel() > 0)
      mu.backend().gaussian_sample_backward(logvar.detach(), eps, g[0], dmu, dlogvar);
    return std::vector<Tensor>{mu.requires_grad() ? dmu : Tensor(),
                               logvar.requires_grad() ? dlogvar : Tensor()};
  });
  return z;
}

Tensor kl_std_normal(const Tensor& mu, const Tensor& logvar) {
  const char* op = "kl_std_normal";
  check_pair(op, mu, logvar);
  if (mu.ndim() < 1) throw ShapeError(fmt::format("{}: mu must be [N, D...], got a scalar", op));
  Tensor kl = Tensor::zeros({mu.size(0)}, mu.dtype(), mu.device());
  if (mu.numel() > 0) mu.backend().kl_std_normal_forward(mu.detach(), logvar.detach(), kl);

  record(op, {mu, logvar}, {&kl}, [mu, logvar](const std::vector<Tensor>& g) {
    Tensor dmu = Tensor::zeros(mu.shape(), mu.dtype(), mu.device());
    Tensor dlogvar = Tensor::zeros(mu.shape(), mu.dtype(), mu.device());
    if (mu.numel() > 0)
      mu.backend().kl_std_normal_backward(mu.detach(), logvar.detach(), g[0], dmu, dlogvar);
    return std::vector<Tensor>{mu.requires_grad() ? dmu : Tensor(),
                               logvar.requires_grad() ? dlogvar : Tensor()};
  });
  return kl;
}

}  // namespace gm

// Per-image negative log-likelihoods of the binarised (Bernoulli) and 8-bit (discretized
// logistic) output distributions: [N, positions...] in, [N] nats out.
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

// The shared checks: floating `first`, the others of the same shape, dtype and device.
void check_like(std::string_view op, const Tensor& first, std::string_view first_name,
                const std::vector<std::pair<const Tensor*, std::string_view>>& others) {
  check_floating(op, first);
  if (first.ndim() < 1)
    throw ShapeError(fmt::format("{}: {} must be [N, positions...], got a scalar", op, first_name));
  for (const auto& [t, name] : others) {
    check_same_device(op, first, *t);
    check_same_dtype(op, first, *t);
    check_shape(op, name, *t, first.shape());
  }
}

// x must lie on the 256-level grid 2 v / 255 - 1 of [-1, 1]. Reads x on the host: a common
// mistake (pixels in [0, 255] or [0, 1]) would otherwise give a plausible-looking wrong loss.
void check_grid(std::string_view op, const Tensor& x) {
  const std::vector<double> values = x.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    const double level = (values[i] + 1.0) * 127.5;  // the pixel value v, if on the grid
    // 1e-3 of a level is far above float32 rounding of 2 v / 255 - 1 (about 1e-5 of a level).
    if (!(level > -1e-3 && level < 255.0 + 1e-3 && std::abs(level - std::round(level)) < 1e-3))
      fail(
          "{}: x[{}] = {} is not on the 256-level grid of [-1, 1] (x = 2 v / 255 - 1 for a "
          "pixel value v in 0..255); scale pixels as v / 127.5 - 1",
          op, i, values[i]);
  }
}

}  // namespace

Tensor bernoulli_nll(const Tensor& logits, const Tensor& target) {
  const char* op = "bernoulli_nll";
  check_like(op, logits, "logits", {{&target, "target"}});
  Tensor nll = Tensor::zeros({logits.size(0)}, logits.dtype(), logits.device());
  if (logits.numel() > 0)
    logits.backend().bernoulli_nll_forward(logits.detach(), target.detach(), nll);

  // The target is data: it receives no gradient.
  record(op, {logits}, {&nll}, [logits, target](const std::vector<Tensor>& g) {
    Tensor dlogits = Tensor::zeros(logits.shape(), logits.dtype(), logits.device());
    if (logits.numel() > 0)
      logits.backend().bernoulli_nll_backward(logits.detach(), target.detach(), g[0], dlogits);
    return std::vector<Tensor>{dlogits};
  });
  return nll;
}

Tensor discretized_logistic_nll(const Tensor& x, const Tensor& mean, const Tensor& log_scale,
                                PixelGrid grid) {
  const char* op = "discretized_logistic_nll";
  check_like(op, mean, "mean", {{&x, "x"}, {&log_scale, "log_scale"}});
  // A target made from uint8 pixels is on the grid by construction; checking it would read it
  // on the host, which stops the device's queue once per training step.
  if (grid == PixelGrid::check) check_grid(op, x);
  Tensor nll = Tensor::zeros({mean.size(0)}, mean.dtype(), mean.device());
  if (mean.numel() > 0)
    mean.backend().discretized_logistic_nll_forward(x.detach(), mean.detach(), log_scale.detach(),
                                                    nll);

  // x is data: it receives no gradient.
  record(op, {mean, log_scale}, {&nll}, [x, mean, log_scale](const std::vector<Tensor>& g) {
    Tensor dmean = Tensor::zeros(mean.shape(), mean.dtype(), mean.device());
    Tensor dlog_scale = Tensor::zeros(mean.shape(), mean.dtype(), mean.device());
    if (mean.numel() > 0)
      mean.backend().discretized_logistic_nll_backward(x.detach(), mean.detach(),
                                                       log_scale.detach(), g[0], dmean, dlog_scale);
    return std::vector<Tensor>{mean.requires_grad() ? dmean : Tensor(),
                               log_scale.requires_grad() ? dlog_scale : Tensor()};
  });
  return nll;
}

}  // namespace gm

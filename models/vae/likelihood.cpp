#include "models/vae/likelihood.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/sampling_checks.h"

namespace gm::models {

namespace {

Tensor plane(const Tensor& params, int64_t p) {
  return reshape(slice(params, 1, p, p + 1), {params.size(0), params.size(2)});
}

void check_params(Likelihood l, const Tensor& params) {
  GM_CHECK(params.ndim() == 3 && params.size(1) == likelihood_planes(l),
           "{} likelihood: expected decoder output [N, {}, D], got {}", likelihood_name(l),
           likelihood_planes(l), params.describe());
}

}  // namespace

std::string likelihood_name(Likelihood l) {
  switch (l) {
    case Likelihood::logistic:
      return "discretized logistic";
    case Likelihood::bernoulli:
      return "Bernoulli";
    case Likelihood::gaussian:
      return "Gaussian";
  }
  return "?";
}

int64_t likelihood_planes(Likelihood l) {
  return l == Likelihood::bernoulli ? 1 : 2;
}

Tensor likelihood_target(Likelihood l, const Tensor& images, Generator& gen, DType dtype,
                         Device device) {
  GM_CHECK(images.ndim() == 4, "expected images [N, C, H, W], got {}", images.describe());
  const Shape flat{images.size(0), images.size(1) * images.size(2) * images.size(3)};
  switch (l) {
    case Likelihood::logistic:
      return reshape(scale_images(images, dtype, device), flat);
    case Likelihood::bernoulli:
      return reshape(binarize(images, gen, dtype, device), flat);
    case Likelihood::gaussian: {
      Tensor noise = Tensor::uniform(flat, -1.0 / 255.0, 1.0 / 255.0, gen, dtype, device);
      return reshape(scale_images(images, dtype, device), flat) + noise;
    }
  }
  fail("unknown likelihood");
}

Tensor likelihood_target_scaled(Likelihood l, const Tensor& target) {
  return l == Likelihood::bernoulli ? target * 2.0 - 1.0 : target;
}

Tensor likelihood_nll(Likelihood l, const Tensor& params, const Tensor& target) {
  check_params(l, params);
  switch (l) {
    case Likelihood::logistic:
      return discretized_logistic_nll(target, plane(params, 0),
                                      clamp_min(plane(params, 1), kMinLogScale),
                                      PixelGrid::from_uint8);
    case Likelihood::bernoulli:
      return bernoulli_nll(plane(params, 0), target);
    case Likelihood::gaussian: {
      // -log N(x; m, v) = 1/2 (log 2 pi + log v + (x - m)^2 / v), plus log 127.5 per
      // dimension for the bin width 2/255 (header comment).
      Tensor logvar = clamp_min(plane(params, 1), kMinLogVariance);
      Tensor per_dim = (logvar + square(target - plane(params, 0)) * exp(-logvar)) * 0.5;
      const double constant = 0.5 * std::log(2.0 * std::numbers::pi) + std::log(127.5);
      return sum(per_dim, {1}) + constant * static_cast<double>(target.size(1));
    }
  }
  fail("unknown likelihood");
}

Tensor likelihood_mean(Likelihood l, const Tensor& params) {
  check_params(l, params);
  if (l == Likelihood::bernoulli) return sigmoid(plane(params, 0)) * 2.0 - 1.0;
  return plane(params, 0);
}

Tensor likelihood_sample(Likelihood l, const Tensor& params, Generator& gen, double temperature) {
  check_params(l, params);
  check_sampling_request(likelihood_name(l) + " likelihood", params.size(0), temperature);
  NoGradGuard no_grad;
  const Tensor mean = plane(params, 0);
  switch (l) {
    case Likelihood::logistic: {
      // Inverse CDF of the logistic: m + s (log u - log(1 - u)), then the nearest level (the
      // end bins take the tails, exactly as the likelihood counts them).
      Tensor u = Tensor::uniform(mean.shape(), 0.0, 1.0, gen, DType::f64, mean.device());
      Tensor scale = exp(clamp_min(plane(params, 1), kMinLogScale)).to(DType::f64) * temperature;
      return to_pixels(mean.to(DType::f64) + scale * (log(u) - log(-u + 1.0)));
    }
    case Likelihood::bernoulli:
      return (bernoulli_draw(sigmoid(mean * (1.0 / temperature)), gen).to(DType::f32) * 255.0)
          .to(DType::u8);
    case Likelihood::gaussian: {
      Tensor eps = Tensor::normal(mean.shape(), 0.0, 1.0, gen, mean.dtype(), mean.device());
      Tensor std = exp(clamp_min(plane(params, 1), kMinLogVariance) * 0.5) * temperature;
      return to_pixels(mean + std * eps);
    }
  }
  fail("unknown likelihood");
}

}  // namespace gm::models

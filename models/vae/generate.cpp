// Using a trained VAE: sampling from the prior, reconstructions, the latent manifold and
// interpolations. Each decodes a batch of latents in one pass.
#include <cmath>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/sampling_checks.h"
#include "models/vae/vae.h"

namespace gm::models {

GaussianParams VaeModel::encode(const Tensor& images, const Tensor& labels, Generator& gen) const {
  const Tensor y = label_input(labels, images.size(0));
  return (*encoder_)(prepare(images, gen).second, y);
}

Tensor VaeModel::features(const Tensor& images, Generator& gen) const {
  NoGradGuard no_grad;
  return encode(images, gen).mu;
}

Tensor VaeModel::decode(const Tensor& z, const Tensor& labels, DecodeMode mode, Generator& gen,
                        double temperature) const {
  GM_CHECK(z.ndim() == 2 && z.size(1) == config_.latent, "{}: expected latents [N, {}], got {}",
           config_.name, config_.latent, z.describe());
  NoGradGuard no_grad;
  const Tensor y = label_input(labels, z.size(0));
  Tensor params = (*decoder_)(z.to(device_).to(dtype_), y);
  Tensor pixels = mode == DecodeMode::mean
                      ? to_pixels(likelihood_mean(config_.likelihood, params))
                      : likelihood_sample(config_.likelihood, params, gen, temperature);
  return reshape(pixels, {z.size(0), shape_.channels, shape_.height, shape_.width});
}

Tensor VaeModel::sample(int64_t count, double temperature, Generator& gen) {
  return sample(count, temperature, DecodeMode::sample, gen);
}

Tensor VaeModel::sample(int64_t count, double temperature, DecodeMode mode, Generator& gen) {
  check_sampling_request(config_.name, count, temperature);
  Tensor z = Tensor::normal({count, config_.latent}, 0.0, temperature, gen, dtype_, device_);
  return decode(z, mode, gen, temperature);
}

Tensor VaeModel::sample(const Tensor& labels, double temperature, Generator& gen) {
  if (classes_ == 0) return Model::sample(labels, temperature, gen);
  const int64_t count = labels.defined() ? labels.size(0) : 0;
  check_sampling_request(config_.name, count, temperature);
  label_input(labels, count);  // checks them before any work
  Tensor z = Tensor::normal({count, config_.latent}, 0.0, temperature, gen, dtype_, device_);
  return decode(z, labels, DecodeMode::sample, gen, temperature);
}

Tensor VaeModel::reconstruct(const Tensor& images, DecodeMode mode, Generator& gen) {
  NoGradGuard no_grad;
  const GaussianParams q = encode(images, gen);
  return decode(gaussian_sample(q.mu, q.logvar, gen), mode, gen);
}

double standard_normal_quantile(double p) {
  GM_CHECK(p > 0.0 && p < 1.0, "normal quantile: p must be in (0, 1), got {}", p);
  // Phi(z) = erfc(-z / sqrt 2) / 2 is increasing; 200 bisection steps reach double precision.
  double lo = -40.0, hi = 40.0;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Tensor VaeModel::manifold_grid(int64_t n, DecodeMode mode, Generator& gen) {
  GM_CHECK(config_.latent == 2,
           "{}: the manifold grid needs a 2-D latent space, this model has {} latent dimensions "
           "(use vae-2d)",
           config_.name, config_.latent);
  GM_CHECK(n >= 1, "manifold grid: n must be positive, got {}", n);
  std::vector<double> z;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      z.push_back(
          standard_normal_quantile((static_cast<double>(j) + 0.5) / static_cast<double>(n)));
      z.push_back(
          standard_normal_quantile(1.0 - (static_cast<double>(i) + 0.5) / static_cast<double>(n)));
    }
  return decode(Tensor::from_vector(z, {n * n, 2}, dtype_, device_), mode, gen);
}

Tensor VaeModel::interpolate(const Tensor& from, const Tensor& to, int64_t steps, DecodeMode mode,
                             Generator& gen) {
  GM_CHECK(steps >= 2, "interpolation needs at least 2 steps, got {}", steps);
  GM_CHECK(from.shape() == to.shape(), "interpolation: endpoints {} and {} differ in shape",
           from.describe(), to.describe());
  NoGradGuard no_grad;
  const Tensor a = encode(from, gen).mu, b = encode(to, gen).mu;  // [N, L]
  const int64_t n = a.size(0), l = a.size(1);
  // t [1, steps, 1] against endpoints [N, 1, L]: z = a + t (b - a), pair by pair.
  std::vector<double> ts;
  for (int64_t s = 0; s < steps; ++s)
    ts.push_back(static_cast<double>(s) / static_cast<double>(steps - 1));
  Tensor t = Tensor::from_vector(ts, {1, steps, 1}, dtype_, device_);
  Tensor a3 = reshape(a, {n, 1, l});
  Tensor z = a3 + t * (reshape(b, {n, 1, l}) - a3);
  return decode(reshape(z, {n * steps, l}), mode, gen);
}

Tensor VaeModel::sweep(const Tensor& image, const std::vector<int64_t>& dims, int64_t steps,
                       double range, DecodeMode mode, Generator& gen) {
  GM_CHECK(image.ndim() == 4 && image.size(0) == 1,
           "latent sweep: expected one image [1, C, H, W], got {}", image.describe());
  GM_CHECK(!dims.empty(), "latent sweep: no latent dimensions to sweep");
  for (int64_t d : dims)
    GM_CHECK(d >= 0 && d < config_.latent,
             "latent sweep: dimension {} does not exist, {} has latent dimensions 0..{}", d,
             config_.name, config_.latent - 1);
  GM_CHECK(steps >= 2, "latent sweep needs at least 2 steps, got {}", steps);
  GM_CHECK(range > 0.0 && std::isfinite(range), "latent sweep: range must be positive, got {}",
           range);
  NoGradGuard no_grad;
  const std::vector<double> mu = encode(image, gen).mu.to_vector<double>();
  std::vector<double> z;
  for (int64_t d : dims)
    for (int64_t s = 0; s < steps; ++s) {
      std::vector<double> row = mu;
      row[static_cast<size_t>(d)] =
          -range + 2.0 * range * static_cast<double>(s) / static_cast<double>(steps - 1);
      z.insert(z.end(), row.begin(), row.end());
    }
  const int64_t rows = static_cast<int64_t>(dims.size()) * steps;
  return decode(Tensor::from_vector(z, {rows, config_.latent}, dtype_, device_), mode, gen);
}

}  // namespace gm::models

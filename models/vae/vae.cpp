#include "models/vae/vae.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/labels.h"

namespace gm::models {

VaeModel::VaeModel(VaeConfig config, ImageShape shape, const nn::Init& init, int64_t classes)
    : config_(std::move(config)),
      shape_(shape),
      device_(init.device),
      dtype_(init.dtype),
      classes_(classes) {
  GM_CHECK(config_.latent >= 1, "{}: the latent space needs at least one dimension", config_.name);
  GM_CHECK(classes == 0 || config_.network == VaeNetwork::mlp,
           "{}: only the MLP VAE has a class-conditional variant", config_.name);
  const int64_t planes = likelihood_planes(config_.likelihood);
  if (config_.network == VaeNetwork::mlp) {
    encoder_ =
        &add_module<MlpEncoder>("encoder", shape, config_.hidden, config_.latent, init, classes);
    decoder_ = &add_module<MlpDecoder>("decoder", shape, config_.hidden, config_.latent, planes,
                                       init, classes);
  } else {
    encoder_ =
        &add_module<ConvEncoder>("encoder", shape, config_.conv_channels, config_.latent, init);
    decoder_ = &add_module<ConvDecoder>("decoder", shape, config_.conv_channels, config_.latent,
                                        planes, init);
  }
}

void VaeModel::check_images(const Tensor& images) const {
  GM_CHECK(images.ndim() == 4 && images.dtype() == DType::u8 && images.size(1) == shape_.channels &&
               images.size(2) == shape_.height && images.size(3) == shape_.width,
           "{}: expected uint8 images [N, {}, {}, {}], got {}", config_.name, shape_.channels,
           shape_.height, shape_.width, images.describe());
}

std::pair<Tensor, Tensor> VaeModel::prepare(const Tensor& images, Generator& gen) const {
  check_images(images);
  Tensor target = likelihood_target(config_.likelihood, images, gen, dtype_, device_);
  Tensor encoder_input = reshape(likelihood_target_scaled(config_.likelihood, target),
                                 {images.size(0), shape_.channels, shape_.height, shape_.width});
  return {target, encoder_input};
}

Tensor VaeModel::label_input(const Tensor& labels, int64_t count) const {
  if (classes_ == 0) return {};
  check_labels(config_.name, labels, count, classes_);
  return one_hot(labels, classes_, dtype_, device_);
}

LossOutput VaeModel::loss(const Tensor& images, Generator& gen) {
  return loss(images, Tensor(), gen);
}

LossOutput VaeModel::loss(const Tensor& images, const Tensor& labels, Generator& gen) {
  const Tensor y = label_input(labels, images.size(0));
  auto [target, x] = prepare(images, gen);
  GaussianParams q = (*encoder_)(x, y);
  Tensor z = gaussian_sample(q.mu, q.logvar, gen);  // the reparameterisation trick
  Tensor recon = likelihood_nll(config_.likelihood, (*decoder_)(z, y), target);  // [N]
  Tensor kl = kl_std_normal(q.mu, q.logvar);                                     // [N]
  LossOutput out = loss_from_nll(recon + kl, shape_, read_loss());
  const std::pair<const char*, Tensor> terms[] = {{"recon", mean(recon).detach()},
                                                  {"kl", mean(kl).detach()}};
  for (const auto& [name, value] : terms) {
    if (read_loss())
      out.terms[name] = value.item();
    else
      out.unread_terms[name] = value;
  }
  return out;
}

std::vector<double> VaeModel::negative_elbo(const Tensor& images, const Tensor& labels,
                                            Generator& gen) {
  NoGradGuard no_grad;
  const Tensor y = label_input(labels, images.size(0));
  auto [target, x] = prepare(images, gen);
  GaussianParams q = (*encoder_)(x, y);
  Tensor z = gaussian_sample(q.mu, q.logvar, gen);
  Tensor recon = likelihood_nll(config_.likelihood, (*decoder_)(z, y), target);
  return (recon + kl_std_normal(q.mu, q.logvar)).to_vector<double>();
}

namespace {

// [N, F] -> [N * k, F], each row repeated k times in a row.
Tensor repeat_rows(const Tensor& t, int64_t k) {
  const int64_t n = t.size(0), f = t.size(1);
  return reshape(broadcast_to(reshape(t, {n, 1, f}), {n, k, f}), {n * k, f});
}

}  // namespace

std::vector<double> VaeModel::importance_weighted_nll(const Tensor& images, const Tensor& labels,
                                                      int64_t k, Generator& gen,
                                                      int64_t rows_per_pass) {
  GM_CHECK(k >= 1, "{}: importance sampling needs k >= 1 samples, got {}", config_.name, k);
  NoGradGuard no_grad;
  const Tensor y = label_input(labels, images.size(0));
  auto [target, x] = prepare(images, gen);  // one binarisation / dequantisation per image
  const GaussianParams q = (*encoder_)(x, y);
  const int64_t n = images.size(0);
  const int64_t chunk = std::clamp<int64_t>(rows_per_pass / std::max<int64_t>(n, 1), 1, k);

  // log w = log p(x|z) + log p(z) - log q(z|x), combined per image by a running log-sum-exp
  // in double: max m and sum s of exp(log w - m).
  std::vector<double> running_max(static_cast<size_t>(n), -INFINITY);
  std::vector<double> running_sum(static_cast<size_t>(n), 0.0);
  for (int64_t done = 0; done < k; done += chunk) {
    const int64_t kc = std::min(chunk, k - done);
    Tensor mu = repeat_rows(q.mu, kc), logvar = repeat_rows(q.logvar, kc);
    Tensor z = gaussian_sample(mu, logvar, gen);
    // log p(z) - log q(z|x) = -1/2 sum_l [z^2 - (z - mu)^2 / sigma^2 - log sigma^2] (the
    // log 2 pi terms cancel).
    Tensor log_ratio =
        sum(square(z) - square(z - mu) * exp(-logvar) - logvar, {1}) * -0.5;  // [N * kc]
    const Tensor yk = y.defined() ? repeat_rows(y, kc) : Tensor();
    Tensor log_px =
        -likelihood_nll(config_.likelihood, (*decoder_)(z, yk), repeat_rows(target, kc));
    const std::vector<double> log_w = (log_px + log_ratio).to_vector<double>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < kc; ++j) {
        const double w = log_w[static_cast<size_t>(i * kc + j)];
        double& m = running_max[static_cast<size_t>(i)];
        double& s = running_sum[static_cast<size_t>(i)];
        if (w > m) {
          s = s * std::exp(m - w) + 1.0;
          m = w;
        } else {
          s += std::exp(w - m);
        }
      }
  }
  std::vector<double> nll(static_cast<size_t>(n));
  for (size_t i = 0; i < nll.size(); ++i)
    nll[i] = -(running_max[i] + std::log(running_sum[i]) - std::log(static_cast<double>(k)));
  return nll;
}

}  // namespace gm::models

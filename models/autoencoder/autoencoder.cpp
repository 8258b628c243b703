#include "models/autoencoder/autoencoder.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/registry.h"
#include "models/sampling_checks.h"

namespace gm::models {

AutoencoderModel::AutoencoderModel(AutoencoderConfig config, ImageShape shape, const nn::Init& init)
    : config_(std::move(config)), shape_(shape), device_(init.device), dtype_(init.dtype) {
  GM_CHECK(config_.code >= 1, "{}: the code needs at least one dimension", config_.name);
  encoder_ = &add_module<ConvEncoder>("encoder", shape, config_.conv_channels, config_.code, init,
                                      /*variance_head=*/false);
  decoder_ =
      &add_module<ConvDecoder>("decoder", shape, config_.conv_channels, config_.code, 1, init);
}

Tensor AutoencoderModel::code(const Tensor& images) const {
  check_image_batch(config_.name, shape_, images);
  return encoder_->mean(scale_images(images, dtype_, device_));
}

Tensor AutoencoderModel::reconstruction(const Tensor& images) const {
  const Tensor c = code(images);
  return reshape((*decoder_)(c), {images.size(0), shape_.dims()});
}

LossOutput AutoencoderModel::loss(const Tensor& images, Generator&) {
  const Tensor target = reshape(scale_images(images, dtype_, device_), {images.size(0), -1});
  const Tensor l2 = sum(square(reconstruction(images) - target), {1});  // [N]
  LossOutput out;
  out.loss = mean(l2);
  read_loss_value(out, shape_, read_loss());
  out.bits_per_dim = std::numeric_limits<double>::quiet_NaN();
  if (read_loss())
    out.terms["l2"] = out.nats_per_image;
  else
    out.unread_terms["l2"] = out.loss.detach();
  return out;
}

Tensor AutoencoderModel::sample(int64_t, double, Generator&) {
  fail(
      "{} is a plain autoencoder: it has no prior over its codes, so there is no p(x) to sample "
      "from; train a VAE (vae-ref, vae-conv) to sample, or use 'genmodel features' for its codes",
      config_.name);
}

Tensor AutoencoderModel::reconstruct(const Tensor& images) const {
  NoGradGuard no_grad;
  return reshape(to_pixels(reconstruction(images)),
                 {images.size(0), shape_.channels, shape_.height, shape_.width});
}

Tensor AutoencoderModel::features(const Tensor& images, Generator&) const {
  NoGradGuard no_grad;
  return code(images);
}

std::vector<ModelConfig> autoencoder_configs() {
  AutoencoderConfig c;  // the defaults are ae-conv
  return {{c.name,
           "plain convolutional autoencoder (the conv VAE's networks without noise or KL), "
           "L2 reconstruction, 20-dimensional code; for features, not a density",
           ImageShape{1, 28, 28},
           [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
             return std::make_unique<AutoencoderModel>(c, shape, init);
           }}};
}

}  // namespace gm::models

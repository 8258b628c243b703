#pragma once
// The plain convolutional autoencoder: the lecture's step before the VAE. An encoder maps an
// image x (on the [-1, 1] scale) to a code c = f(x) of a few dimensions, a decoder maps the
// code back to a reconstruction x^ = g(c), and training minimises the squared error
//   L(x) = ||x - g(f(x))||^2   (summed over pixels, on the [-1, 1] scale).
// The networks are the convolutional VAE's (models/vae/networks.h) without the variance head:
// no noise on the code and no KL term, so nothing makes codes of unseen points decode to
// images, and there is no p(x) to sample from or score (docs/latent.md). What it is good for
// is the code: features that a linear classifier can use (tools/linear_probe.h).
#include "models/features.h"
#include "models/model.h"
#include "models/vae/networks.h"

namespace gm::models {

struct AutoencoderConfig {
  std::string name = "ae-conv";
  int64_t conv_channels = 32;  // the first convolution's width (then twice that)
  int64_t code = 20;           // code dimensions (the VAE's latent count, for comparison)
};

class AutoencoderModel : public Model, public FeatureEncoder {
 public:
  AutoencoderModel(AutoencoderConfig config, ImageShape shape, const nn::Init& init);

  std::string config_name() const override { return config_.name; }
  ImageShape image_shape() const override { return shape_; }
  bool has_likelihood() const override { return false; }

  // The squared error per image averaged over the batch; nats_per_image carries the same
  // number for the logs (it is no likelihood: bits_per_dim is NaN), terms {"l2": ...}.
  LossOutput loss(const Tensor& images, Generator& gen) override;
  // An autoencoder has no density to sample from: throws, naming the VAE to use instead.
  Tensor sample(int64_t count, double temperature, Generator& gen) override;

  Tensor code(const Tensor& images) const;         // uint8 [N, C, H, W] -> [N, code]
  Tensor reconstruct(const Tensor& images) const;  // uint8 -> uint8, without gradients
  Tensor features(const Tensor& images, Generator& gen) const override;
  int64_t feature_dims() const override { return config_.code; }

 private:
  Tensor reconstruction(const Tensor& images) const;  // [N, D] on the [-1, 1] scale

  AutoencoderConfig config_;
  ImageShape shape_;
  Device device_;
  DType dtype_;
  ConvEncoder* encoder_ = nullptr;
  ConvDecoder* decoder_ = nullptr;
};

}  // namespace gm::models

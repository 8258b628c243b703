#pragma once
// The VAE's two networks. The encoder maps an image (on the [-1, 1] scale) to the Gaussian
// q(z|x) = N(mu, diag(exp(logvar))); the decoder maps a latent z to the P parameter planes of
// p(x|z) per pixel, [N, P, D] with D = C * H * W (models/vae/likelihood.h).
//   MLP  (vae-ref): D -> hidden -> (mu, logvar);  latent -> hidden -> P * D.
//   conv (the lecture's): 4 convolutions (4x4 stride 2 twice, then 3x3 twice) -> Linear heads;
//        Linear -> 4 transposed convolutions mirroring them (3x3 twice, 4x4 stride 2 twice),
//        plus one learned bias per output pixel ("untied", zero at first) so that the
//        per-pixel marginals (the black border, the bright centre) are learnt directly, as
//        the MLP's last Linear learns them, instead of through the shared convolution biases.
#include "models/model.h"

namespace gm::models {

struct GaussianParams {
  Tensor mu, logvar;  // [N, L]
};

class VaeEncoder : public nn::Module {
 public:
  virtual GaussianParams operator()(const Tensor& x) const = 0;  // x [N, C, H, W]
};

class VaeDecoder : public nn::Module {
 public:
  virtual Tensor operator()(const Tensor& z) const = 0;  // z [N, L] -> [N, P, D]
};

class MlpEncoder : public VaeEncoder {
 public:
  MlpEncoder(const ImageShape& shape, int64_t hidden, int64_t latent, const nn::Init& init);
  GaussianParams operator()(const Tensor& x) const override;

 private:
  nn::Linear *hidden_, *mu_, *logvar_;
};

class MlpDecoder : public VaeDecoder {
 public:
  MlpDecoder(const ImageShape& shape, int64_t hidden, int64_t latent, int64_t planes,
             const nn::Init& init);
  Tensor operator()(const Tensor& z) const override;

 private:
  nn::Linear *hidden_, *out_;
  int64_t planes_, dims_;
};

// `channels` is the first convolution's width; the others use twice that. Without the
// variance head it is the plain autoencoder's encoder (models/autoencoder): x -> mu only.
class ConvEncoder : public VaeEncoder {
 public:
  ConvEncoder(const ImageShape& shape, int64_t channels, int64_t latent, const nn::Init& init,
              bool variance_head = true);
  GaussianParams operator()(const Tensor& x) const override;
  Tensor mean(const Tensor& x) const;  // the mu head alone

 private:
  Tensor features(const Tensor& x) const;  // the convolutions, flattened

  nn::Conv2d *conv1_, *conv2_, *conv3_, *conv4_;
  nn::Linear *mu_, *logvar_ = nullptr;
};

class ConvDecoder : public VaeDecoder {
 public:
  ConvDecoder(const ImageShape& shape, int64_t channels, int64_t latent, int64_t planes,
              const nn::Init& init);
  Tensor operator()(const Tensor& z) const override;

 private:
  nn::Linear* project_;
  nn::ConvTranspose2d *up1_, *up2_, *up3_, *up4_;
  Tensor pixel_bias_;  // [P * C, H, W]
  ImageShape shape_;
  int64_t channels_, planes_;
};

}  // namespace gm::models

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
// A conditional MLP VAE (K classes) feeds the label's one-hot to both networks: the encoder
// sees [x, onehot(y)] (q(z | x, y)), the decoder [z, onehot(y)] (p(x | z, y)).
#include "models/model.h"

namespace gm::models {

struct GaussianParams {
  Tensor mu, logvar;  // [N, L]
};

// onehot: [N, K] for a conditional network, an undefined tensor for an unconditional one.
class VaeEncoder : public nn::Module {
 public:
  // x [N, C, H, W]
  virtual GaussianParams operator()(const Tensor& x, const Tensor& onehot) const = 0;
  GaussianParams operator()(const Tensor& x) const { return (*this)(x, Tensor()); }
};

class VaeDecoder : public nn::Module {
 public:
  // z [N, L] -> [N, P, D]
  virtual Tensor operator()(const Tensor& z, const Tensor& onehot) const = 0;
  Tensor operator()(const Tensor& z) const { return (*this)(z, Tensor()); }
};

class MlpEncoder : public VaeEncoder {
 public:
  MlpEncoder(const ImageShape& shape, int64_t hidden, int64_t latent, const nn::Init& init,
             int64_t classes = 0);
  using VaeEncoder::operator();
  GaussianParams operator()(const Tensor& x, const Tensor& onehot) const override;

 private:
  nn::Linear *hidden_, *mu_, *logvar_;
  int64_t classes_;
};

class MlpDecoder : public VaeDecoder {
 public:
  MlpDecoder(const ImageShape& shape, int64_t hidden, int64_t latent, int64_t planes,
             const nn::Init& init, int64_t classes = 0);
  using VaeDecoder::operator();
  Tensor operator()(const Tensor& z, const Tensor& onehot) const override;

 private:
  nn::Linear *hidden_, *out_;
  int64_t planes_, dims_, classes_;
};

// `channels` is the first convolution's width; the others use twice that. Without the
// variance head it is the plain autoencoder's encoder (models/autoencoder): x -> mu only.
class ConvEncoder : public VaeEncoder {
 public:
  ConvEncoder(const ImageShape& shape, int64_t channels, int64_t latent, const nn::Init& init,
              bool variance_head = true);
  using VaeEncoder::operator();
  GaussianParams operator()(const Tensor& x, const Tensor& onehot) const override;
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
  using VaeDecoder::operator();
  Tensor operator()(const Tensor& z, const Tensor& onehot) const override;

 private:
  nn::Linear* project_;
  nn::ConvTranspose2d *up1_, *up2_, *up3_, *up4_;
  Tensor pixel_bias_;  // [P * C, H, W]
  ImageShape shape_;
  int64_t channels_, planes_;
};

}  // namespace gm::models

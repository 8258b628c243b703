#pragma once
// The variational autoencoder (Kingma & Welling 2014). A latent z ~ p(z) = N(0, I) generates
// x through a neural decoder p(x|z); an encoder q(z|x) = N(mu, diag(sigma^2)) approximates the
// intractable posterior, and training maximises the evidence lower bound
//   log p(x) >= ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)),
// the expectation estimated with one reparameterised sample z = mu + sigma * eps. The loss is
// -ELBO in nats per image, an upper bound on the NLL; importance_weighted_nll() tightens it.
// docs/vae.md derives each term next to the code that computes it.
// Built with K classes (MLP networks only) it is the conditional VAE: encoder q(z | x, y) and
// decoder p(x | z, y) both see the label's one-hot, the prior stays N(0, I), and the bounds
// are on log p(x | y).
#include <vector>

#include "models/features.h"
#include "models/model.h"
#include "models/vae/likelihood.h"
#include "models/vae/networks.h"

namespace gm::models {

enum class VaeNetwork { mlp, conv };

struct VaeConfig {
  std::string name = "vae-ref";
  VaeNetwork network = VaeNetwork::mlp;
  Likelihood likelihood = Likelihood::logistic;
  int64_t hidden = 400;        // MLP hidden width
  int64_t conv_channels = 32;  // conv: the first convolution's width (then twice that)
  int64_t latent = 20;
};

// How decoded images are turned into pixels: a draw from p(x|z), or its mean.
enum class DecodeMode { sample, mean };

class VaeModel : public Model, public FeatureEncoder {
 public:
  // classes = 0: p(x); classes = K >= 2: p(x | y) (MLP networks only).
  VaeModel(VaeConfig config, ImageShape shape, const nn::Init& init, int64_t classes = 0);

  std::string config_name() const override { return config_.name; }
  ImageShape image_shape() const override { return shape_; }
  int64_t num_classes() const override { return classes_; }
  const VaeConfig& config() const { return config_; }
  int64_t latent_dims() const { return config_.latent; }

  // -ELBO averaged over the batch, with terms {"recon": E_q[-log p(x|z)], "kl": KL(q || p)}.
  LossOutput loss(const Tensor& images, Generator& gen) override;
  LossOutput loss(const Tensor& images, const Tensor& labels, Generator& gen) override;
  // Per image, without gradients: -ELBO (one sample of z), nats. The functions below that take
  // no labels are for unconditional models; a conditional one needs the labels overload.
  std::vector<double> negative_elbo(const Tensor& images, Generator& gen) {
    return negative_elbo(images, Tensor(), gen);
  }
  std::vector<double> negative_elbo(const Tensor& images, const Tensor& labels, Generator& gen);
  // Per image: -log (1/k) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z|x), nats. An upper bound on
  // -log p(x) that tightens as k grows (k = 1 is -ELBO in expectation; 5000 is the
  // literature's convention). Log-weights are combined in double precision; the k samples are
  // drawn in chunks of at most `rows_per_pass` decoder rows.
  std::vector<double> importance_weighted_nll(const Tensor& images, int64_t k, Generator& gen,
                                              int64_t rows_per_pass = 4096) {
    return importance_weighted_nll(images, Tensor(), k, gen, rows_per_pass);
  }
  std::vector<double> importance_weighted_nll(const Tensor& images, const Tensor& labels, int64_t k,
                                              Generator& gen, int64_t rows_per_pass = 4096);

  // q(z|x) for uint8 images [N, C, H, W] (gen: the binarisation of -bin models).
  GaussianParams encode(const Tensor& images, Generator& gen) const {
    return encode(images, Tensor(), gen);
  }
  GaussianParams encode(const Tensor& images, const Tensor& labels, Generator& gen) const;
  // The posterior mean mu of q(z|x): the VAE's features for the linear probe.
  Tensor features(const Tensor& images, Generator& gen) const override;
  int64_t feature_dims() const override { return config_.latent; }
  // z [N, L] -> the likelihood's parameters [N, P, D] (models/vae/likelihood.h).
  Tensor decoder_params(const Tensor& z) const { return (*decoder_)(z); }
  // z [N, L] -> uint8 images [N, C, H, W]: the decoder's mean, or a draw from p(x|z) whose
  // pixel noise `temperature` scales (likelihood_sample). Conditional models also take labels.
  Tensor decode(const Tensor& z, DecodeMode mode, Generator& gen, double temperature = 1.0) const {
    return decode(z, Tensor(), mode, gen, temperature);
  }
  Tensor decode(const Tensor& z, const Tensor& labels, DecodeMode mode, Generator& gen,
                double temperature = 1.0) const;

  // Sampling at temperature T scales every standard deviation of the generative process:
  // z ~ N(0, T^2 I), then pixels from p(x|z) with their noise scaled by T. T = 1 is the model;
  // T < 1 moves towards the mode (the mean decoding of z = 0), as the autoregressive models'
  // softmax temperature moves towards the most likely pixel values. docs/latent.md argues it.
  Tensor sample(int64_t count, double temperature, Generator& gen) override;
  Tensor sample(int64_t count, double temperature, DecodeMode mode, Generator& gen);
  // One image per label from p(x | z, y), z ~ N(0, temperature^2 I).
  Tensor sample(const Tensor& labels, double temperature, Generator& gen) override;
  // Encode, draw z ~ q(z|x), decode.
  Tensor reconstruct(const Tensor& images, DecodeMode mode, Generator& gen);
  // A 2-D latent space as an n x n grid of decoded images, [n * n, C, H, W] row-major: column
  // j has z_1 = Phi^-1((j + 1/2) / n), row i has z_2 = Phi^-1(1 - (i + 1/2) / n), so that the
  // grid covers the prior's mass evenly (Phi: the standard normal CDF).
  Tensor manifold_grid(int64_t n, DecodeMode mode, Generator& gen);
  // For each pair (from[i], to[i]) the decodings of z = (1 - t) mu_from + t mu_to at `steps`
  // evenly spaced t in [0, 1]: [N * steps, C, H, W], pair by pair.
  Tensor interpolate(const Tensor& from, const Tensor& to, int64_t steps, DecodeMode mode,
                     Generator& gen);
  // The lecture's edit: encode one image [1, C, H, W] to its mean mu, then for each latent
  // dimension d in `dims` decode mu with z_d replaced by `steps` evenly spaced values in
  // [-range, range] (the prior's scale): [dims.size() * steps, C, H, W], one dimension per row.
  Tensor sweep(const Tensor& image, const std::vector<int64_t>& dims, int64_t steps, double range,
               DecodeMode mode, Generator& gen);

 private:
  void check_images(const Tensor& images) const;
  // The likelihood's target [N, D] and the encoder's input [N, C, H, W] from uint8 images.
  std::pair<Tensor, Tensor> prepare(const Tensor& images, Generator& gen) const;
  // The labels checked and one-hot encoded on the model's device (undefined when unconditional).
  Tensor label_input(const Tensor& labels, int64_t count) const;

  VaeConfig config_;
  ImageShape shape_;
  Device device_;
  DType dtype_;
  int64_t classes_;
  VaeEncoder* encoder_ = nullptr;
  VaeDecoder* decoder_ = nullptr;
};

// The inverse of the standard normal CDF, for the manifold grid (bisection in double).
double standard_normal_quantile(double p);

}  // namespace gm::models

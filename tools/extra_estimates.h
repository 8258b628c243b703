#pragma once
// Likelihood numbers a model family offers beyond its training loss. Exact-likelihood models
// (PixelCNN, PixelRNN) have none: their loss is the NLL. The VAE's loss is the negative ELBO,
// an upper bound on the NLL; the importance-weighted estimate
//   -log (1/k) sum_k p(x, z_k) / q(z_k | x),  z_k ~ q(z | x)
// tightens it as k grows and puts the VAE on the autoregressive models' scale.
#include <string>
#include <vector>

#include "engine/io/batches.h"
#include "models/model.h"

namespace gm::tools {

struct ExtraEstimate {
  std::string key;    // for JSON, e.g. "importance_weighted_nll"
  std::string label;  // for people, e.g. "importance-weighted NLL (k = 5000)"
  double nats_per_image = 0.0, bits_per_dim = 0.0;
};

struct LikelihoodKind {
  bool loss_is_bound = false;  // the loss is -ELBO, not the NLL
  std::vector<ExtraEstimate> extras;
};

// `importance_samples` = 0 skips the importance-weighted estimate. Images are taken in
// batches of `batch` and prepared as in training (`pixels`); `seed` drives the samples of z.
LikelihoodKind extra_estimates(models::Model& model, const io::Dataset& data, int64_t batch,
                               io::Pixels pixels, int64_t importance_samples, uint64_t seed);

}  // namespace gm::tools

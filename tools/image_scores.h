#pragma once
// Per-image scores of a data set under a model, and how well a score tells two sets apart:
// what `score`, `outliers` and `classify` share.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/batches.h"
#include "models/model.h"

namespace gm::tools {

// -log p(x) per image in nats. Autoregressive models: exact. VAE: -ELBO (one z) and, with
// importance_samples > 0, the importance-weighted bound (docs/vae.md). A conditional model
// scores -log p(x | y) with the data's labels.
struct ImageScores {
  std::vector<double> nats;       // the tightest estimate available
  std::vector<double> elbo_nats;  // VAE only: -ELBO per image (empty otherwise)
  std::vector<int32_t> labels;
};
ImageScores score_images(models::Model& model, const io::Dataset& data, int64_t batch,
                         io::Pixels pixels, int64_t importance_samples, uint64_t seed);

// log p(x | y) for every class y, per image: [image][class] in nats. Exact for autoregressive
// models, the importance-weighted estimate with k samples for a VAE.
std::vector<std::vector<double>> class_log_likelihoods(models::Model& model,
                                                       const io::Dataset& data, int64_t batch,
                                                       io::Pixels pixels,
                                                       int64_t importance_samples, uint64_t seed);

// -log p(x) per image, nats, whatever the labels: a conditional model's marginal
// p(x) = sum_y p(x | y) p(y) with the uniform prior p(y) = 1/K, an unconditional model's score.
std::vector<double> marginal_nats(models::Model& model, const io::Dataset& data, int64_t batch,
                                  io::Pixels pixels, int64_t importance_samples, uint64_t seed);
// log sum_y exp(log p(x | y)) - log K: the marginal log p(x) under the uniform prior.
double log_marginal(const std::vector<double>& class_log_likelihoods);

// nats -> bits per dimension for images of `dims` values.
double bits_per_dim(double nats, int64_t dims);

// The length in bits of image `index` of uint8 images [N, ...] compressed by zlib (deflate,
// level 9): a generic compressor's estimate of the image's complexity L(x).
double compressed_bits(const Tensor& images, int64_t index);

// Separating scores where a higher score means "more likely an outlier".
// AUROC: P(outlier score > in-distribution score), ties counting one half (0.5 is chance).
double auroc(const std::vector<double>& inliers, const std::vector<double>& outliers);
// The fraction of outliers accepted when the threshold accepts 95% of the inliers.
double fpr_at_95_tpr(const std::vector<double>& inliers, const std::vector<double>& outliers);

// A transformed copy of `data` for outlier tests: "flip" (upside down), "mirror" (left-right),
// "invert" (255 - x) or "noise" (uniform random pixels, seeded, labels kept).
io::Dataset transformed(const io::Dataset& data, const std::string& how, uint64_t seed);

}  // namespace gm::tools

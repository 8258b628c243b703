#include "tools/image_scores.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "models/labels.h"
#include "models/vae/vae.h"
#include "tools/common.h"
#include "tools/progress.h"

namespace gm::tools {

namespace {

// Image i of a batch (and its label) as a batch of one.
Tensor one(const Tensor& t, int64_t i) {
  return slice(t, 0, i, i + 1);
}

}  // namespace

ImageScores score_images(models::Model& model, const io::Dataset& data, int64_t batch,
                         io::Pixels pixels, int64_t importance_samples, uint64_t seed) {
  NoGradGuard no_grad;
  Generator gen(seed);
  ImageScores s;
  s.labels = data.labels.to_vector<int32_t>();
  auto* vae = dynamic_cast<models::VaeModel*>(&model);
  const Tensor no_labels;
  Progress progress(0, data.size());
  for_each_batch(data, batch, pixels, gen, [&](const Tensor& images, const Tensor& labels) {
    const Tensor y = model.num_classes() > 0 ? labels : no_labels;
    if (vae) {
      const std::vector<double> elbo = vae->negative_elbo(images, y, gen);
      s.elbo_nats.insert(s.elbo_nats.end(), elbo.begin(), elbo.end());
      const std::vector<double> iw =
          importance_samples > 0 ? vae->importance_weighted_nll(images, y, importance_samples, gen)
                                 : elbo;
      s.nats.insert(s.nats.end(), iw.begin(), iw.end());
    } else {
      // The models' loss is a batch mean: one image per call gives each image's NLL.
      for (int64_t i = 0; i < images.size(0); ++i)
        s.nats.push_back(
            model.loss(one(images, i), y.defined() ? one(y, i) : y, gen).nats_per_image);
    }
    progress.update(static_cast<int64_t>(s.nats.size()), s.nats.back(),
                    bits_per_dim(s.nats.back(), shape_of(data).dims()));
  });
  progress.finish();
  return s;
}

std::vector<std::vector<double>> class_log_likelihoods(models::Model& model,
                                                       const io::Dataset& data, int64_t batch,
                                                       io::Pixels pixels,
                                                       int64_t importance_samples, uint64_t seed) {
  const int64_t classes = model.num_classes();
  GM_CHECK(classes > 0,
           "{} is unconditional: Bayes' rule needs p(x | y), train a class-conditional model "
           "(e.g. pixelcnn-ref-cond, vae-ref-cond)",
           model.config_name());
  std::vector<std::vector<double>> out(static_cast<size_t>(data.size()));
  for (int64_t y = 0; y < classes; ++y) {
    fmt::print(stderr, "class {}/{}\n", y + 1, classes);
    io::Dataset as_y = data;
    as_y.labels = models::repeated_label(y, data.size());
    // The same seed for every class: each class sees the same binarisation and noise.
    const ImageScores s = score_images(model, as_y, batch, pixels, importance_samples, seed);
    for (size_t i = 0; i < out.size(); ++i)
      out[i].push_back(-s.nats[i]);
  }
  return out;
}

double log_marginal(const std::vector<double>& ll) {
  const double top = *std::max_element(ll.begin(), ll.end());
  double sum = 0.0;
  for (double v : ll)
    sum += std::exp(v - top);
  return top + std::log(sum) - std::log(static_cast<double>(ll.size()));
}

std::vector<double> marginal_nats(models::Model& model, const io::Dataset& data, int64_t batch,
                                  io::Pixels pixels, int64_t importance_samples, uint64_t seed) {
  if (model.num_classes() == 0)
    return score_images(model, data, batch, pixels, importance_samples, seed).nats;
  std::vector<double> nats;
  for (const std::vector<double>& ll :
       class_log_likelihoods(model, data, batch, pixels, importance_samples, seed))
    nats.push_back(-log_marginal(ll));
  return nats;
}

double bits_per_dim(double nats, int64_t dims) {
  return nats / (static_cast<double>(dims) * std::numbers::ln2);
}

double compressed_bits(const Tensor& images, int64_t index) {
  const int64_t per_image = images.numel() / images.size(0);
  const uint8_t* src = images.data<uint8_t>() + index * per_image;
  uLongf size = compressBound(static_cast<uLong>(per_image));
  std::vector<Bytef> buffer(size);
  const int rc = compress2(buffer.data(), &size, src, static_cast<uLong>(per_image), 9);
  GM_CHECK(rc == Z_OK, "zlib compress2 failed with code {}", rc);
  return 8.0 * static_cast<double>(size);
}

double auroc(const std::vector<double>& inliers, const std::vector<double>& outliers) {
  GM_CHECK(!inliers.empty() && !outliers.empty(), "AUROC needs scores of both sets");
  // Mann-Whitney: rank all scores together; ties share their mean rank.
  std::vector<std::pair<double, bool>> all;
  for (double v : inliers)
    all.push_back({v, false});
  for (double v : outliers)
    all.push_back({v, true});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum = 0.0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first)
      ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + j + 1);  // ranks are 1-based
    for (size_t k = i; k < j; ++k)
      if (all[k].second) rank_sum += mean_rank;
    i = j;
  }
  const double n_out = static_cast<double>(outliers.size());
  const double n_in = static_cast<double>(inliers.size());
  return (rank_sum - n_out * (n_out + 1.0) / 2.0) / (n_out * n_in);
}

double fpr_at_95_tpr(const std::vector<double>& inliers, const std::vector<double>& outliers) {
  GM_CHECK(!inliers.empty() && !outliers.empty(), "FPR at 95% TPR needs scores of both sets");
  std::vector<double> sorted = inliers;
  std::sort(sorted.begin(), sorted.end());
  // The smallest threshold that accepts (score <= threshold) at least 95% of the inliers.
  const size_t k = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(sorted.size()))) - 1;
  const double threshold = sorted[k];
  const auto accepted =
      std::count_if(outliers.begin(), outliers.end(), [&](double v) { return v <= threshold; });
  return static_cast<double>(accepted) / static_cast<double>(outliers.size());
}

io::Dataset transformed(const io::Dataset& data, const std::string& how, uint64_t seed) {
  io::Dataset out = data;
  out.name = data.name + " (" + how + ")";
  if (how == "flip") {
    out.images = flip(data.images, 2);
  } else if (how == "mirror") {
    out.images = flip(data.images, 3);
  } else if (how == "invert") {
    out.images = (Tensor::full(data.images.shape(), 255.0, DType::f32) - data.images.to(DType::f32))
                     .to(DType::u8);
  } else if (how == "noise") {
    Generator gen(seed);
    out.images = Tensor::uniform(data.images.shape(), 0.0, 255.99, gen).to(DType::u8);
  } else {
    fail("unknown transformation '{}': use flip, mirror, invert or noise", how);
  }
  return out;
}

}  // namespace gm::tools

#include "tools/linear_probe.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/optim.h"
#include "models/images.h"

namespace gm::tools {

namespace {

void check_pair(const Tensor& features, const Tensor& labels, const char* split) {
  GM_CHECK(features.ndim() == 2 && labels.ndim() == 1 && labels.size(0) == features.size(0),
           "linear probe: {} features {} and labels {} must be [N, F] and [N]", split,
           features.describe(), labels.describe());
  GM_CHECK(features.size(0) > 0, "linear probe: no {} images", split);
}

// (x - mean) / std per column, with the statistics of `reference` (the training features).
struct Standardiser {
  std::vector<double> mean, inv_std;
  explicit Standardiser(const Tensor& reference) {
    const int64_t n = reference.size(0), f = reference.size(1);
    const std::vector<double> x = reference.to_vector<double>();
    mean.assign(static_cast<size_t>(f), 0.0);
    inv_std.assign(static_cast<size_t>(f), 0.0);
    std::vector<double> sq(static_cast<size_t>(f), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j)
        mean[static_cast<size_t>(j)] += x[static_cast<size_t>(i * f + j)] / static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j) {
        const double d = x[static_cast<size_t>(i * f + j)] - mean[static_cast<size_t>(j)];
        sq[static_cast<size_t>(j)] += d * d / static_cast<double>(n);
      }
    // A constant feature (a pixel that is always black) carries nothing: weight it 0.
    for (size_t j = 0; j < sq.size(); ++j)
      inv_std[j] = sq[j] > 1e-12 ? 1.0 / std::sqrt(sq[j]) : 0.0;
  }
  Tensor operator()(const Tensor& features) const {
    const int64_t f = static_cast<int64_t>(mean.size());
    const Tensor m = Tensor::from_vector(mean, {1, f}, DType::f32);
    const Tensor s = Tensor::from_vector(inv_std, {1, f}, DType::f32);
    return (features.to(DType::f32) - m) * s;
  }
};

// logits [N, K] -> the fraction whose largest logit is the label.
double accuracy(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.size(0), k = logits.size(1);
  const std::vector<float> l = logits.to_vector<float>();
  const std::vector<int> y = labels.to_vector<int>();
  int64_t right = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; ++c)
      if (l[static_cast<size_t>(i * k + c)] > l[static_cast<size_t>(i * k + best)]) best = c;
    right += best == y[static_cast<size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(n);
}

}  // namespace

ProbeResult linear_probe(const Tensor& train_features, const Tensor& train_labels,
                         const Tensor& test_features, const Tensor& test_labels, int64_t classes,
                         const ProbeOptions& o) {
  check_pair(train_features, train_labels, "training");
  check_pair(test_features, test_labels, "test");
  GM_CHECK(test_features.size(1) == train_features.size(1),
           "linear probe: training features have {} dimensions, test features {}",
           train_features.size(1), test_features.size(1));
  GM_CHECK(classes >= 2, "linear probe: needs at least 2 classes, got {}", classes);
  for (const Tensor* labels : {&train_labels, &test_labels})
    for (int y : labels->to_vector<int>())
      GM_CHECK(y >= 0 && y < classes,
               "linear probe: label {} is outside 0..{}; the data set needs class labels", y,
               classes - 1);
  GM_CHECK(o.steps >= 1 && o.lr > 0.0, "linear probe: needs steps >= 1 and lr > 0");

  const int64_t f = train_features.size(1);
  const Standardiser standardise(train_features);
  const Tensor x = standardise(train_features), x_test = standardise(test_features);
  // Cross-entropy over K classes at one position: logits [N, K, 1], labels [N, 1].
  const Tensor y = reshape(train_labels.to(DType::i32), {train_labels.size(0), 1});
  Tensor weight = Tensor::zeros({classes, f}, DType::f32).set_requires_grad();
  Tensor bias = Tensor::zeros({classes}, DType::f32).set_requires_grad();
  AdamW adam({{"weight", weight}, {"bias", bias}}, {.lr = o.lr, .weight_decay = o.weight_decay});
  ProbeResult r;
  for (int64_t step = 0; step < o.steps; ++step) {
    adam.zero_grad();
    const Tensor logits = linear(x, weight, bias);
    Tensor loss = mean(softmax_cross_entropy(reshape(logits, {x.size(0), classes, 1}), y));
    loss.backward();
    adam.step();
    r.train_loss = loss.item();
  }
  NoGradGuard no_grad;
  r.feature_dims = f;
  r.train_images = x.size(0);
  r.test_images = x_test.size(0);
  r.train_accuracy = accuracy(linear(x, weight, bias), train_labels);
  r.test_accuracy = accuracy(linear(x_test, weight, bias), test_labels);
  return r;
}

Tensor pixel_features(const io::Dataset& data) {
  GM_CHECK(data.size() > 0, "{}: no images", data.name);
  return reshape(models::scale_images(data.images, DType::f32, Device::cpu()), {data.size(), -1});
}

Tensor encoder_features(const models::FeatureEncoder& encoder, const io::Dataset& data,
                        int64_t batch, Generator& gen) {
  GM_CHECK(data.size() > 0, "{}: no images", data.name);
  GM_CHECK(batch >= 1, "features: batch must be positive, got {}", batch);
  std::vector<float> all;
  all.reserve(static_cast<size_t>(data.size() * encoder.feature_dims()));
  for (int64_t start = 0; start < data.size(); start += batch) {
    const int64_t n = std::min(batch, data.size() - start);
    const Tensor images = slice(data.images, 0, start, start + n);
    const std::vector<float> f = encoder.features(images, gen).to_vector<float>();
    all.insert(all.end(), f.begin(), f.end());
  }
  return Tensor::from_vector(all, {data.size(), encoder.feature_dims()}, DType::f32);
}

}  // namespace gm::tools

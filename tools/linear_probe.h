#pragma once
// The linear probe: how much of the label a representation makes linearly readable. A
// multinomial logistic regression p(y | f) = softmax(W f + b) is fitted on the features f of
// training images and scored by its accuracy on test images; the features are raw pixels or
// an encoder's output (autoencoder code, VAE posterior mean; models/features.h).
//
// Each feature is standardised with the training set's mean and standard deviation, and the
// weights start at zero, so the problem is convex and its solution does not depend on a seed:
// full-batch Adam on the mean cross-entropy converges to it without any randomness.
#include <string>
#include <vector>

#include "engine/io/dataset.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "models/features.h"

namespace gm::tools {

struct ProbeOptions {
  int64_t steps = 300;  // full-batch Adam steps
  double lr = 0.05;
  double weight_decay = 1e-4;  // decoupled (AdamW): keeps 784 pixel weights from fitting noise
};

struct ProbeResult {
  int64_t feature_dims = 0, train_images = 0, test_images = 0;
  double train_accuracy = 0.0, test_accuracy = 0.0;  // fractions in [0, 1]
  double train_loss = 0.0;                           // final mean cross-entropy, nats
};

// features [N, F] (any float dtype, cpu), labels int32 [N] in [0, classes).
ProbeResult linear_probe(const Tensor& train_features, const Tensor& train_labels,
                         const Tensor& test_features, const Tensor& test_labels, int64_t classes,
                         const ProbeOptions& options = {});

// Raw pixels as features: [N, C * H * W] on the [-1, 1] scale, float32.
Tensor pixel_features(const io::Dataset& data);
// An encoder's features of every image of `data`, in batches: [N, F] float32 on the cpu.
Tensor encoder_features(const models::FeatureEncoder& encoder, const io::Dataset& data,
                        int64_t batch, Generator& gen);

}  // namespace gm::tools

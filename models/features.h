#pragma once
// Models whose encoder gives each image a feature vector: the autoencoder's code, the VAE's
// posterior mean. What the linear probe (tools/linear_probe.h) classifies.
#include "engine/random.h"
#include "engine/tensor.h"

namespace gm::models {

class FeatureEncoder {
 public:
  virtual ~FeatureEncoder() = default;
  // uint8 images [N, C, H, W] -> features [N, F], without gradients (`gen`: any randomness
  // the encoder's input needs, e.g. the binarisation of -bin models).
  virtual Tensor features(const Tensor& images, Generator& gen) const = 0;
  virtual int64_t feature_dims() const = 0;
};

}  // namespace gm::models

// PLACEHOLDER: replaced by the pixelrnn family's real configurations.
#include "models/registry.h"

namespace gm::models {
std::vector<ModelConfig> pixelrnn_configs() {
  return {};
}
}  // namespace gm::models

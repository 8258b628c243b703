// PLACEHOLDER: replaced by the vae family's real configurations.
#include "models/registry.h"

namespace gm::models {
std::vector<ModelConfig> vae_configs() {
  return {};
}
}  // namespace gm::models

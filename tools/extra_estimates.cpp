#include "tools/extra_estimates.h"

namespace gm::tools {

std::vector<ExtraEstimate> extra_estimates(models::Model& /*model*/, const io::Dataset& /*data*/,
                                           int64_t /*batch*/, io::Pixels /*pixels*/,
                                           int64_t /*importance_samples*/, uint64_t /*seed*/) {
  // No model family with a bound is registered yet (the VAE lands in models/vae).
  return {};
}

}  // namespace gm::tools

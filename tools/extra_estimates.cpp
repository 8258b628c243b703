#include "tools/extra_estimates.h"

#include <cmath>

#include "models/vae/vae.h"

namespace gm::tools {

LikelihoodKind extra_estimates(models::Model& model, const io::Dataset& data, int64_t batch,
                               io::Pixels pixels, int64_t importance_samples, uint64_t seed) {
  LikelihoodKind kind;
  auto* vae = dynamic_cast<models::VaeModel*>(&model);
  if (!vae) return kind;
  kind.loss_is_bound = true;
  if (importance_samples <= 0) return kind;
  Generator gen(seed);
  double total = 0.0;
  for (int64_t start = 0; start < data.size(); start += batch) {
    const int64_t n = std::min(batch, data.size() - start);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      idx[static_cast<size_t>(i)] = start + i;
    const Tensor images = io::preprocess(data.gather(idx).images, pixels, gen);
    for (double nll : vae->importance_weighted_nll(images, importance_samples, gen))
      total += nll;
  }
  const double nats = total / static_cast<double>(data.size());
  const double dims = static_cast<double>(data.channels() * data.height() * data.width());
  kind.extras.push_back({"importance_weighted_nll",
                         fmt::format("importance-weighted NLL (k = {})", importance_samples), nats,
                         nats / (dims * std::log(2.0))});
  return kind;
}

}  // namespace gm::tools

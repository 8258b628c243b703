#include "tools/extra_estimates.h"

#include <cmath>

#include "models/vae/vae.h"
#include "tools/common.h"

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
  for_each_batch(data, batch, pixels, gen, [&](const Tensor& images, const Tensor& labels) {
    for (double nll : vae->importance_weighted_nll(images, labels, importance_samples, gen))
      total += nll;
  });
  const double nats = total / static_cast<double>(data.size());
  const double dims = static_cast<double>(shape_of(data).dims());
  kind.extras.push_back({"importance_weighted_nll",
                         fmt::format("importance-weighted NLL (k = {})", importance_samples), nats,
                         nats / (dims * std::log(2.0))});
  return kind;
}

}  // namespace gm::tools

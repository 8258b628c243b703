#include "engine/step_stats.h"

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace gm {

StepStats::StepStats(Device device, int64_t capacity)
    : stats_(Tensor::zeros({1 + 2 * capacity}, DType::f64, device)), capacity_(capacity) {
  GM_CHECK(capacity >= 1, "StepStats: room for at least one step is needed, got {}", capacity);
}

void StepStats::record(const Tensor& loss, const std::vector<NamedTensor>& params,
                       const std::map<std::string, Tensor>& terms) {
  GM_CHECK(pending_ < capacity_,
           "StepStats: {} steps are pending, all it has room for: read() them first", pending_);
  GM_CHECK(loss.numel() == 1, "StepStats: the loss must be a scalar, got {}", loss.describe());
  NoGradGuard no_grad;
  Tensor sum_squares = grad_sum_of_squares(params);
  // Steps without any gradient (none computed) give a zero on the CPU.
  if (sum_squares.device() != stats_.device()) sum_squares = sum_squares.to(stats_.device());
  const Tensor l = loss.device() == stats_.device() ? loss.detach() : loss.to(stats_.device());
  backend_for(stats_.device()).record_step_stats(l, sum_squares, stats_, pending_);
  for (const auto& [name, value] : terms)
    GM_CHECK(value.numel() == 1 && is_floating(value.dtype()),
             "StepStats: the term '{}' must be a floating scalar, got {}", name, value.describe());
  terms_.push_back(terms);
  ++pending_;
}

std::vector<StepStats::Step> StepStats::read() {
  std::vector<Step> out;
  if (pending_ == 0) return out;
  const std::vector<double> v = stats_.to_vector<double>();
  for (int64_t k = 0; k < pending_; ++k)
    out.push_back({v[static_cast<size_t>(1 + 2 * k)], v[static_cast<size_t>(2 + 2 * k)], {}});
  // The terms in one more copy: the read above waited for the device, so this one waits only
  // for the few launches that gather them.
  std::vector<Tensor> scalars;
  for (const auto& step : terms_)
    for (const auto& [name, value] : step)
      scalars.push_back(reshape(value, {1}).to(DType::f64));
  if (!scalars.empty()) {
    const std::vector<double> values = concat(scalars, 0).to_vector<double>();
    size_t i = 0;
    for (size_t k = 0; k < terms_.size(); ++k)
      for (const auto& entry : terms_[k])
        out[k].terms[entry.first] = values[i++];
  }
  terms_.clear();
  pending_ = 0;
  return out;
}

}  // namespace gm

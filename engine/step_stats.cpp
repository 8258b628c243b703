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

namespace {

// The loss and the gradients' sum of squares on the statistics' device.
std::pair<Tensor, Tensor> step_values(const Tensor& loss, const std::vector<NamedTensor>& params,
                                      Device device) {
  GM_CHECK(loss.numel() == 1, "StepStats: the loss must be a scalar, got {}", loss.describe());
  Tensor sum_squares = grad_sum_of_squares(params);
  // Steps without any gradient (none computed) give a zero on the CPU.
  if (sum_squares.device() != device) sum_squares = sum_squares.to(device);
  return {loss.device() == device ? loss.detach() : loss.to(device), sum_squares};
}

}  // namespace

void StepStats::record(const Tensor& loss, const std::vector<NamedTensor>& params,
                       const std::map<std::string, Tensor>& terms) {
  GM_CHECK(pending_ < capacity_,
           "StepStats: {} steps are pending, all it has room for: read() them first", pending_);
  for (const auto& [name, value] : terms)
    GM_CHECK(value.numel() == 1 && is_floating(value.dtype()),
             "StepStats: the term '{}' must be a floating scalar, got {}", name, value.describe());
  NoGradGuard no_grad;
  const auto [l, sum_squares] = step_values(loss, params, stats_.device());
  backend_for(stats_.device()).record_step_stats(l, sum_squares, stats_, pending_);
  terms_.push_back(terms);
  ++pending_;
}

void StepStats::prepare_record() {
  GM_CHECK(pending_ < capacity_,
           "StepStats: {} steps are pending, all it has room for: read() them first", pending_);
  if (!slot_.defined()) slot_ = Tensor::empty({}, DType::i32, stats_.device());
  slot_.copy_from(Tensor::from_vector(std::vector<int32_t>{static_cast<int32_t>(pending_)}, {}));
  terms_.emplace_back();  // a replayed step keeps no terms (the graph path refuses models that do)
  ++pending_;
}

void StepStats::queue_record(const Tensor& loss, const std::vector<NamedTensor>& params) {
  GM_CHECK(slot_.defined(), "StepStats: queue_record() before any prepare_record()");
  NoGradGuard no_grad;
  const auto [l, sum_squares] = step_values(loss, params, stats_.device());
  backend_for(stats_.device()).record_step_stats_at(l, sum_squares, stats_, slot_);
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

#include "engine/step_stats.h"

#include <cstring>
#include <utility>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace gm {

StepStats::StepStats(Device device, int64_t capacity) : capacity_(capacity) {
  GM_CHECK(capacity >= 1, "StepStats: room for at least one step is needed, got {}", capacity);
  stats_ = Tensor::zeros({1 + 2 * capacity}, DType::f64, device);
  readback_ = backend_for(device).make_readback();
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
           "StepStats: {} steps are pending, all it has room for: request() or read() them first",
           pending_);
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
           "StepStats: {} steps are pending, all it has room for: request() or read() them first",
           pending_);
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

void StepStats::request() {
  if (pending_ == 0) return;
  if (in_flight_ > 0) {
    if (!readback_->ready()) readback_->wait();
    collect();
  }
  std::vector<HostReadback::Piece> pieces{
      {stats_.raw(), static_cast<size_t>(1 + 2 * pending_) * sizeof(double)}};
  // The terms gathered into one buffer on the device (a few launches), copied behind the
  // statistics.
  std::vector<Tensor> scalars;
  in_flight_terms_.clear();
  for (const auto& step : terms_) {
    in_flight_terms_.emplace_back();
    for (const auto& [name, value] : step) {
      scalars.push_back(reshape(value.detach(), {1}).to(DType::f64));
      in_flight_terms_.back().push_back(name);
    }
  }
  in_flight_buffer_ = scalars.empty() ? Tensor() : concat(scalars, 0);
  if (in_flight_buffer_.defined())
    pieces.push_back(
        {in_flight_buffer_.raw(), static_cast<size_t>(in_flight_buffer_.numel()) * sizeof(double)});
  readback_->start(pieces);
  in_flight_ = pending_;
  terms_.clear();
  pending_ = 0;
}

void StepStats::collect() {
  const size_t values = static_cast<size_t>(1 + 2 * in_flight_);
  size_t terms = 0;
  for (const auto& names : in_flight_terms_)
    terms += names.size();
  std::vector<double> host(values + terms);
  std::memcpy(host.data(), readback_->data(), host.size() * sizeof(double));
  size_t next_term = values;
  for (int64_t k = 0; k < in_flight_; ++k) {
    Step step{host[static_cast<size_t>(1 + 2 * k)], host[static_cast<size_t>(2 + 2 * k)], {}};
    for (const std::string& name : in_flight_terms_[static_cast<size_t>(k)])
      step.terms[name] = host[next_term++];
    arrived_.push_back(std::move(step));
  }
  in_flight_ = 0;
  in_flight_terms_.clear();
  in_flight_buffer_ = Tensor();
}

std::vector<StepStats::Step> StepStats::take() {
  if (in_flight_ > 0 && readback_->ready()) collect();
  return std::exchange(arrived_, {});
}

std::vector<StepStats::Step> StepStats::read() {
  request();
  if (in_flight_ > 0) {
    readback_->wait();
    collect();
  }
  return std::exchange(arrived_, {});
}

}  // namespace gm

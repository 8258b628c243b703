#include "engine/distributed/gradient_reducer.h"

#include <chrono>

#include "engine/backend.h"

namespace gm::dist {

namespace {

uint8_t* byte_pointer(const Tensor& t, int64_t element) {
  return static_cast<uint8_t*>(t.raw()) + static_cast<size_t>(element) * dtype_size(t.dtype());
}

// Copies `grad` into flat[offset ...): same device, or a device gradient into host memory.
void copy_into_flat(const Tensor& grad, Tensor& flat, int64_t offset) {
  uint8_t* dst = byte_pointer(flat, offset);
  if (flat.device() == grad.device())
    grad.backend().copy_within(dst, grad.raw(), grad.nbytes());
  else
    grad.backend().copy_to_host(dst, grad.raw(), grad.nbytes());
}

// A fresh gradient tensor (gradients may be shared, so they are never overwritten in place).
Tensor copy_out_of_flat(const Tensor& flat, int64_t offset, const Tensor& param) {
  Tensor grad = Tensor::empty(param.shape(), param.dtype(), param.device());
  const uint8_t* src = byte_pointer(flat, offset);
  if (flat.device() == param.device())
    grad.backend().copy_within(grad.raw(), src, grad.nbytes());
  else
    grad.backend().copy_from_host(grad.raw(), src, grad.nbytes());
  return grad;
}

}  // namespace

GradientReducer::GradientReducer(std::vector<NamedTensor> params, Communicator& comm,
                                 size_t bucket_bytes)
    : params_(std::move(params)), comm_(comm), param_ready_(params_.size(), false) {
  GM_CHECK(!params_.empty(), "GradientReducer: no parameters to reduce");
  const Device device = params_.front().tensor.device();
  for (size_t i = params_.size(); i-- > 0;) {
    const Tensor& p = params_[i].tensor;
    GM_CHECK(p.defined() && is_floating(p.dtype()) && p.device() == device,
             "GradientReducer: parameter '{}' is {}, but every parameter must be a float tensor "
             "on {}",
             params_[i].name, p.defined() ? p.describe() : "undefined", device.name());
    const bool start_new =
        buckets_.empty() || params_[buckets_.back().params.front()].tensor.dtype() != p.dtype() ||
        static_cast<size_t>(buckets_.back().elements + p.numel()) * dtype_size(p.dtype()) >
            bucket_bytes;
    if (start_new) buckets_.emplace_back();
    Bucket& b = buckets_.back();
    b.params.push_back(i);
    b.offsets.push_back(b.elements);
    b.elements += p.numel();
    bucket_of_[&p.impl()] = buckets_.size() - 1;
    index_of_[&p.impl()] = i;
  }
}

void GradientReducer::on_gradient_ready(const Tensor& leaf) {
  const auto found = index_of_.find(&leaf.impl());
  if (found == index_of_.end() || param_ready_[found->second]) return;
  param_ready_[found->second] = true;
  ++buckets_[bucket_of_.at(&leaf.impl())].ready;
  launch_ready_buckets();
  // MPI moves a non-blocking collective forward only inside MPI calls: give the ones in
  // flight a chance while backward still runs.
  for (size_t b = 0; b < next_launch_; ++b)
    if (buckets_[b].pending) buckets_[b].pending->progress();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() &&
         buckets_[next_launch_].ready == buckets_[next_launch_].params.size())
    launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& b) {
  const Tensor& first = params_[b.params.front()].tensor;
  // Zeros stand in for a parameter that got no gradient this step.
  b.flat = Tensor::zeros({b.elements}, first.dtype(), comm_.buffer_device(first.device()));
  for (size_t k = 0; k < b.params.size(); ++k) {
    const Tensor grad = params_[b.params[k]].tensor.grad();
    if (grad.defined()) copy_into_flat(grad, b.flat, b.offsets[k]);
  }
  b.pending = comm_.start_mean(b.flat);
}

void GradientReducer::finish() {
  for (Bucket& b : buckets_)
    b.ready = b.params.size();
  launch_ready_buckets();
  const auto start = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (Bucket& b : buckets_) {
    for (size_t k = 0; k < b.params.size(); ++k) {
      const Tensor& p = params_[b.params[k]].tensor;
      p.impl().grad = copy_out_of_flat(b.flat, b.offsets[k], p).impl_ptr();
    }
    b.flat = Tensor();
    b.ready = 0;
  }
  next_launch_ = 0;
  std::fill(param_ready_.begin(), param_ready_.end(), false);
}

}  // namespace gm::dist

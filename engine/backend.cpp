#include "engine/backend.h"

#include <cmath>
#include <cstddef>

#include "engine/ops.h"
#include "kernels/cpu/cpu_backend.h"
#if GENMODEL_HAVE_CUDA_EMU
#include "kernels/cuda/cuda_backend.h"
#endif

namespace gm {

void Backend::conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                  const Tensor& w, const Tensor& bias, Tensor& y) {
  conv2d_forward(g, mask, x, w, y);
  // In place: each element of y is read once and written once, at the same index.
  binary(BinaryOp::add, y, reshape(bias.detach(), {1, g.out_channels, 1, 1}), y);
}

namespace {

// The defaults below run on backends whose memory the host reads (the CPU): a guard is read
// directly.
bool guard_stops(const double* guard) {
  return guard && !std::isfinite(*guard);
}

// relu(x) as the plain unary entry computes it.
Tensor relu_of(Backend& b, const Tensor& x) {
  Tensor r = Tensor::empty(x.shape(), x.dtype(), x.device());
  b.unary(UnaryOp::relu, UnaryParams{}, x, r);
  return r;
}

// The readback of a backend whose memory the host reads: start() copies at once.
class ImmediateReadback final : public HostReadback {
 public:
  explicit ImmediateReadback(Backend& backend) : backend_(backend) {}
  void start(const std::vector<Piece>& pieces) override {
    size_t total = 0;
    for (const Piece& p : pieces)
      total += p.bytes;
    host_.resize(total);
    size_t at = 0;
    for (const Piece& p : pieces) {
      backend_.copy_to_host(host_.data() + at, p.src, p.bytes);
      at += p.bytes;
    }
  }
  bool ready() override { return true; }
  void wait() override {}
  const void* data() const override { return host_.data(); }

 private:
  Backend& backend_;
  std::vector<std::byte> host_;
};

}  // namespace

std::unique_ptr<HostReadback> Backend::make_readback() {
  return std::make_unique<ImmediateReadback>(*this);
}

void Backend::relu_conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                  const Tensor& w, const Tensor& bias, const Tensor& residual,
                                  Tensor& y) {
  const Tensor r = relu_of(*this, x);
  if (bias.defined())
    conv2d_forward_bias(g, mask, r, w, bias, y);
  else
    conv2d_forward(g, mask, r, w, y);
  if (residual.defined()) binary(BinaryOp::add, y, residual, y);  // in place, as above
}

void Backend::relu_conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                        const Tensor& x, const Tensor& dy, const Tensor& w,
                                        Tensor& dx) {
  Tensor dr = Tensor::empty(dx.shape(), dx.dtype(), dx.device());
  conv2d_backward_data(g, mask, dy, w, dr);
  // The relu's backward reads x only; y is passed for the signature.
  unary_backward(UnaryOp::relu, UnaryParams{}, x, x, dr, dx);
}

void Backend::relu_conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                          const Tensor& x, const Tensor& dy, Tensor& dw) {
  conv2d_backward_weight(g, mask, relu_of(*this, x), dy, dw);
}

void Backend::conv2d_backward_weight_bias(const Conv2dGeometry& g, const ConvMask& mask,
                                          const Tensor& x, bool relu, const Tensor& dy, Tensor& dw,
                                          Tensor& db) {
  if (relu)
    relu_conv2d_backward_weight(g, mask, x, dy, dw);
  else
    conv2d_backward_weight(g, mask, x, dy, dw);
  sum_per_channel(dy, db);
}

void Backend::sum_per_channel(const Tensor& x, Tensor& y) {
  std::vector<int> dims{0};
  for (int d = 2; d < x.ndim(); ++d)
    dims.push_back(d);
  const Tensor sums = sum(x.detach(), dims);
  copy_within(y.raw(), sums.raw(), static_cast<size_t>(y.numel()) * dtype_size(y.dtype()));
}

void Backend::softmax_xent_forward_stats(const Tensor& logits, const Tensor& target, Tensor& nll,
                                         Tensor& /*stats: not kept by default*/) {
  softmax_xent_forward(logits, target, nll);
}

void Backend::softmax_xent_backward_stats(const Tensor& logits, const Tensor& target,
                                          const Tensor& /*stats*/, const Tensor& dnll,
                                          Tensor& dlogits) {
  softmax_xent_backward(logits, target, dnll, dlogits);
}

void Backend::adam_update_many(const AdamStep& s, const std::vector<OptimizerTensors>& list) {
  if (guard_stops(s.guard)) return;
  for (const OptimizerTensors& t : list)
    adam_update(s, *t.param, *t.grad, *t.b0, *t.b1);
}

void Backend::sgd_update_many(const SgdStep& s, const std::vector<OptimizerTensors>& list) {
  if (guard_stops(s.guard)) return;
  for (const OptimizerTensors& t : list) {
    Tensor none;
    sgd_update(s, *t.param, *t.grad, t.b0 ? *t.b0 : none);
  }
}

Tensor Backend::sum_of_squares_many(const std::vector<Tensor>& tensors) {
  GM_CHECK(!tensors.empty(), "{}: sum_of_squares_many needs at least one tensor", name());
  Tensor total;
  for (const Tensor& t : tensors) {
    Tensor partial = sum(square(t.detach())).to(DType::f64);
    total = total.defined() ? add(total, partial) : partial;
  }
  return total;
}

void Backend::scale_many(double factor, const std::vector<Tensor>& tensors) {
  for (Tensor t : tensors)
    t.copy_from(mul_scalar(t.detach(), factor));
}

void Backend::record_step_stats(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                                int64_t slot) {
  GM_CHECK(stats.device() == Device::cpu() && stats.dtype() == DType::f64,
           "{}: record_step_stats needs float64 statistics in host memory, got {}", name(),
           stats.describe());
  GM_CHECK(slot >= 0 && 2 + 2 * slot < stats.numel(), "record_step_stats: slot {} is outside {}",
           slot, stats.describe());
  const double l = loss.item(), s = sum_squares.item();
  double* v = static_cast<double*>(stats.raw());
  v[1 + 2 * slot] = l;
  v[2 + 2 * slot] = std::sqrt(s);
  v[0] = v[0] * 0.0 + l + s;
}

void Backend::record_step_stats_at(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                                   const Tensor& slot) {
  GM_CHECK(slot.dtype() == DType::i32 && slot.numel() == 1,
           "record_step_stats_at: the slot must be an int32 scalar, got {}", slot.describe());
  record_step_stats(loss, sum_squares, stats, slot.to_vector<int32_t>().front());
}

std::string device_unavailable_reason(Device device) {
  switch (device.kind) {
    case DeviceKind::cpu:
      return "";
    case DeviceKind::cuda_emu:
#if GENMODEL_HAVE_CUDA_EMU
      return "";
#else
      return "this build has no emulated CUDA backend (kernels/cuda was not built)";
#endif
    case DeviceKind::cuda:
#if GENMODEL_HAVE_CUDA
      return cuda_unavailable_reason(device.index);
#else
      return "this build has no CUDA backend: configure with -DGENMODEL_CUDA=ON on a machine "
             "with the CUDA toolkit";
#endif
  }
  return "unknown device";
}

bool device_available(Device device) {
  return device_unavailable_reason(device).empty();
}

Backend& backend_for(Device device) {
  switch (device.kind) {
    case DeviceKind::cpu:
      return cpu_backend();
    case DeviceKind::cuda_emu:
#if GENMODEL_HAVE_CUDA_EMU
      return cuda_emu_backend();
#else
      break;
#endif
    case DeviceKind::cuda:
#if GENMODEL_HAVE_CUDA
      if (device_available(device)) return cuda_backend(device.index);
#endif
      break;
  }
  throw DeviceUnavailable(fmt::format("device {} is unavailable: {}", device.name(),
                                      device_unavailable_reason(device)));
}

}  // namespace gm

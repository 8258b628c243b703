#pragma once
// The backend interface: every kernel a device must provide, listed once in
// engine/backend_ops.def (with the conventions every entry follows). An op in engine/ops calls
// exactly one entry per direction, so what a backend lacks is a missing definition, visible at
// link time, never a silent fallback to another device.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/common/op_types.h"

namespace gm {

// One parameter of a multi-tensor optimizer step: its gradient and state buffers as in the
// single-tensor entries (adam: b0 = m, b1 = v; sgd: b0 = the momentum buffer, undefined
// without momentum).
struct OptimizerTensors {
  Tensor* param = nullptr;
  const Tensor* grad = nullptr;
  Tensor* b0 = nullptr;
  Tensor* b1 = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // clang-format off: the entries of engine/backend_ops.def
#define GM_BACKEND_ENTRY(ret, name, params) virtual ret name params = 0;
#include "engine/backend_ops.def"
#undef GM_BACKEND_ENTRY
  // clang-format on

  // y = conv(x, w) + bias[k] for bias [K]. A backend that can start its GEMM from the bias
  // overrides this (one pass over y instead of two); the default adds it after the convolution.
  virtual void conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                   const Tensor& w, const Tensor& bias, Tensor& y);
  // The convolution of relu(x), the ReLU fused in: y = conv(relu(x), w) + bias[k] + residual,
  // bias [K] and residual (y's shape) each optional (undefined: none). Its data gradient is
  // dx = relu'(x) conv_backward_data(dy, w) (0 where x <= 0) and its weight gradient that of a
  // convolution of relu(x). A backend that builds the convolution's columns itself reads
  // relu(x) while building them and never stores it; the defaults store relu(x) and call the
  // plain convolution entries.
  virtual void relu_conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                   const Tensor& w, const Tensor& bias, const Tensor& residual,
                                   Tensor& y);
  virtual void relu_conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                         const Tensor& x, const Tensor& dy, const Tensor& w,
                                         Tensor& dx);
  virtual void relu_conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                           const Tensor& x, const Tensor& dy, Tensor& dw);

  // Softmax cross-entropy (the entries softmax_xent_forward/backward) with the statistics of
  // every position kept from the forward for the backward: stats is float64 [2, N, S] (each
  // position's max, then its sum of exp(x - max); kernels/common/softmax_math.h). A backend
  // that fills it in the forward reads it in the backward instead of sweeping the logits twice
  // more; the defaults neither fill nor read it. The results are the plain entries' bit for bit.
  virtual void softmax_xent_forward_stats(const Tensor& logits, const Tensor& target, Tensor& nll,
                                          Tensor& stats);
  virtual void softmax_xent_backward_stats(const Tensor& logits, const Tensor& target,
                                           const Tensor& stats, const Tensor& dnll,
                                           Tensor& dlogits);

  // Multi-tensor entries: one call for all of a step's tensors of one dtype on this backend,
  // the same arithmetic per element as the single-tensor entries. The defaults call those per
  // tensor; the CUDA backend launches one kernel for many tensors, since a training step
  // otherwise spends launches on one tiny update (or norm) per parameter.
  virtual void adam_update_many(const AdamStep& s, const std::vector<OptimizerTensors>& list);
  virtual void sgd_update_many(const SgdStep& s, const std::vector<OptimizerTensors>& list);
  // The sum of the squares of every element of `tensors` (non-empty), as a float64 scalar
  // tensor on this backend's device: it stays there until someone reads it.
  virtual Tensor sum_of_squares_many(const std::vector<Tensor>& tensors);
  // Multiplies every element of every tensor by `factor`, in place.
  virtual void scale_many(double factor, const std::vector<Tensor>& tensors);
};

// The backend serving a device. Throws DeviceUnavailable (with what to do) when this build or
// machine has no such device.
Backend& backend_for(Device device);
bool device_available(Device device);
// Why a device is unavailable, for messages and skipped tests ("" when it is available).
std::string device_unavailable_reason(Device device);

}  // namespace gm

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
  // A training step's statistics, kept on the device until read: with `loss` a floating scalar
  // and `sum_squares` a float64 scalar (sum_of_squares_many), stats (float64 [1 + 2 k]) gets
  // stats[1 + 2 slot] = loss, stats[2 + 2 slot] = sqrt(sum_squares), and stats[0] becomes not
  // finite, for good, once any value recorded is not (the guard of AdamStep and SgdStep).
  virtual void record_step_stats(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                                 int64_t slot);
};

// The backend serving a device. Throws DeviceUnavailable (with what to do) when this build or
// machine has no such device.
Backend& backend_for(Device device);
bool device_available(Device device);
// Why a device is unavailable, for messages and skipped tests ("" when it is available).
std::string device_unavailable_reason(Device device);

}  // namespace gm

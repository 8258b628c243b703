#pragma once
// The backend interface: every kernel a device must provide, listed once in
// engine/backend_ops.def (with the conventions every entry follows). An op in engine/ops calls
// exactly one entry per direction, so what a backend lacks is a missing definition, visible at
// link time, never a silent fallback to another device.
#include <cstdint>
#include <string>

#include "engine/tensor.h"
#include "kernels/common/op_types.h"

namespace gm {

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
};

// The backend serving a device. Throws DeviceUnavailable (with what to do) when this build or
// machine has no such device.
Backend& backend_for(Device device);
bool device_available(Device device);
// Why a device is unavailable, for messages and skipped tests ("" when it is available).
std::string device_unavailable_reason(Device device);

}  // namespace gm

#pragma once
// The backend interface: every kernel a device must provide, listed once in
// engine/backend_ops.def (with the conventions every entry follows). An op in engine/ops calls
// exactly one entry per direction, so what a backend lacks is a missing definition, visible at
// link time, never a silent fallback to another device.
#include <cstdint>
#include <memory>
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

// Device memory read back without stopping the device's queue: start() queues copies into host
// memory behind the work already queued (pinned memory and an event on CUDA devices), ready()
// asks whether the device has run them, wait() makes the host wait until it has. A training loop
// reads its step statistics this way (engine/step_stats.h).
class HostReadback {
 public:
  struct Piece {
    const void* src = nullptr;  // device memory of the backend that made this readback
    size_t bytes = 0;
  };
  virtual ~HostReadback() = default;
  // Queues copies of the pieces, one after the other, into this readback's host memory. The
  // values of the previous start() are gone: collect them first.
  virtual void start(const std::vector<Piece>& pieces) = 0;
  // Whether the device has run the copies of the last start() (never waits).
  virtual bool ready() = 0;
  // Waits until it has: a host synchronisation, counted as one.
  virtual void wait() = 0;
  // The copied bytes, valid once ready() said so or wait() returned.
  virtual const void* data() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // clang-format off: the entries of engine/backend_ops.def
#define GM_BACKEND_ENTRY(ret, name, params) virtual ret name params = 0;
#define GM_OPTIONAL_ENTRY(ret, name, params) virtual ret name params;
#include "engine/backend_ops.def"
  // clang-format on
};

// The backend serving a device. Throws DeviceUnavailable (with what to do) when this build or
// machine has no such device.
Backend& backend_for(Device device);
bool device_available(Device device);
// Why a device is unavailable, for messages and skipped tests ("" when it is available).
std::string device_unavailable_reason(Device device);

}  // namespace gm

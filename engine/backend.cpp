#include "engine/backend.h"

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

// PLACEHOLDER until the conv kernels land: every function throws.
#include "kernels/cpu/cpu_backend.h"

namespace gm {

void CpuBackend::conv2d_forward(const Conv2dGeometry&, const ConvMask&, const Tensor&,
                                const Tensor&, Tensor&) {
  fail("cpu conv2d_forward: pending");
}
void CpuBackend::conv2d_backward_data(const Conv2dGeometry&, const ConvMask&, const Tensor&,
                                      const Tensor&, Tensor&) {
  fail("cpu conv2d_backward_data: pending");
}
void CpuBackend::conv2d_backward_weight(const Conv2dGeometry&, const ConvMask&, const Tensor&,
                                        const Tensor&, Tensor&) {
  fail("cpu conv2d_backward_weight: pending");
}

}  // namespace gm

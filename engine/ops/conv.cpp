// PLACEHOLDER until the conv ops land.
#include "engine/ops.h"

namespace gm {

Tensor conv2d(const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t) {
  fail("conv2d: pending");
}
Tensor masked_conv2d(const Tensor&, const Tensor&, const Tensor&, MaskType, int) {
  fail("masked_conv2d: pending");
}
Tensor conv_transpose2d(const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, int64_t) {
  fail("conv_transpose2d: pending");
}

}  // namespace gm

#pragma once
// A tensor as a kernel launcher sees it: its device pointer, dtype and shape, nothing of the
// engine (nvcc compiles this header). The CUDA backend hands one of these to a launcher for
// every Tensor parameter of a kernel entry (engine/backend_ops.def), so a launcher takes the
// entry's own parameter list and reads its sizes from the views.
#include <cstdint>

#include "kernels/common/dtype.h"
#include "kernels/common/op_types.h"

namespace gm {

struct TensorView {
  void* raw = nullptr;  // null for an undefined tensor (an absent optional input)
  DType dtype = DType::f32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t numel = 0;

  int64_t size(int dim) const { return shape[dim]; }
  // Elements per image (per index of dim 0); 0 for an empty batch.
  int64_t per_image() const { return ndim > 0 && shape[0] > 0 ? numel / shape[0] : 0; }
  // The elements as T; a const view gives const elements, so inputs stay read-only.
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw);
  }
  template <typename T>
  T* data() {
    return static_cast<T*>(raw);
  }
};

}  // namespace gm

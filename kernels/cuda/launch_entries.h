#pragma once
// The launchers of the kernel entries (GM_KERNEL_ENTRY in engine/backend_ops.def), declared from
// that list: `launchers::name(exec, parameters...)` takes the entry's own parameter list, with
// `Tensor` read as TensorView (kernels/common/tensor_view.h), the device pointer, dtype and
// shape. Each is defined in the .cu file of its kernel family: it reads its sizes from the
// views, picks T with with_floating, and launches. The CudaBackend overrides that call them
// come from the same list (kernels/cuda/backend.h), so a kernel entry is one line there plus
// its launcher's definition.
#include <cstdint>

#include "kernels/common/tensor_view.h"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS::launchers {

using Tensor = TensorView;

#define GM_ARGUMENTS(...) __VA_ARGS__
#define GM_KERNEL_ENTRY(name, params, args) void name(const Exec& e, GM_ARGUMENTS params);
#include "engine/backend_ops.def"
#undef GM_ARGUMENTS

// Optional entries the CUDA backend overrides with kernels of their own (softmax_xent.cu).
void softmax_xent_forward_stats(const Exec& e, const Tensor& logits, const Tensor& target,
                                Tensor& nll, Tensor& stats);
void softmax_xent_backward_stats(const Exec& e, const Tensor& logits, const Tensor& target,
                                 const Tensor& stats, const Tensor& dnll, Tensor& dlogits);

}  // namespace gm::GM_CUDA_NS::launchers

#pragma once
// Sizes shared by the per-image reductions of the loss forwards (row_sum.cuh, softmax_xent.cuh)
// and the kernel lab. The fused kernels' launchers themselves are declared from
// engine/backend_ops.def (kernels/cuda/launch_entries.h).
#include <cstdint>

#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// Partial sums per image of a per-image reduction over S positions (one per block).
int64_t row_chunks(const Exec& e, int64_t S);

// The softmax cross-entropy forward's partial sums per image: one per tile of 32 positions (its
// scratch holds N * xent_chunks(S) doubles, not row_chunks').
inline int64_t xent_chunks(int64_t S) {
  return (S + 31) / 32;
}

}  // namespace gm::GM_CUDA_NS

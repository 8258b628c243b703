#pragma once
// The library's softmax cross-entropy forward (per-position term and launcher), in one header so
// that two programs launch the SAME source: kernels/cuda/softmax_xent.cu (the backend's
// softmax_xent_forward<T, Target>) and the kernel lab (benchmarks/lab/softmax_xent_versions.cuh,
// version xent_v4_library), which validates it against a double reference and, on a GPU, times
// it beside v1-v3.
//
// Logits [N, V, S], targets [N, S] -> nll [N] (summed over positions). One thread per position
// (n, s) walks its column of V values S elements apart with kernels/common/softmax_math.h, so each
// position does exactly the CPU backend's arithmetic (max in T, sum of exp(x - max) in double);
// neighbouring threads take neighbouring positions, so each step of the column walk is one
// coalesced row. The per-position terms go straight into the per-image sum (row_sum.cuh:
// row_partials_kernel, then sum_rows), so no [N, S] loss array is ever written.
#include "kernels/common/softmax_math.h"
#include "kernels/cuda/row_sum.cuh"

namespace gm::GM_CUDA_NS {

template <typename T, typename Target>
struct XentTerm {
  const T* logits;
  const Target* target;
  int64_t V, S;
  __device__ double operator()(int64_t n, int64_t s) const {
    const T* column = logits + n * V * S + s;
    const math::SoftmaxStats<T> st = math::softmax_stats(column, V, S);
    const int64_t t = static_cast<int64_t>(target[n * S + s]);
    return math::log_sum_exp(st) - static_cast<double>(column[t * S]);
  }
};

template <typename T, typename Target>
void softmax_xent_forward(const Exec& e, const T* logits, const Target* target, int64_t N,
                          int64_t V, int64_t S, double* partial, T* nll) {
  row_sums(e, XentTerm<T, Target>{logits, target, V, S}, N, S, partial, nll);
}

}  // namespace gm::GM_CUDA_NS

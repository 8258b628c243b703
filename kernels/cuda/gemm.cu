// The backend's GEMM entry point: the kernel and its launcher are in gemm_tiled.cuh, which the
// kernel lab includes too (benchmarks/lab/gemm_versions.cuh, gemm_v4_library), so lab and
// library launch one source. This file only instantiates it for the backend's types.
#include "kernels/cuda/gemm_tiled.cuh"

namespace gm::GM_CUDA_NS {

template <typename T>
void gemm(const Exec& e, GemmTile tile, const Gemm& s, T alpha, const T* a, const T* b, T beta,
          T* c) {
  gemm_tiled<T>(e, tile, s, alpha, a, b, beta, c);
}

template void gemm<float>(const Exec&, GemmTile, const Gemm&, float, const float*, const float*,
                          float, float*);
template void gemm<double>(const Exec&, GemmTile, const Gemm&, double, const double*, const double*,
                           double, double*);

}  // namespace gm::GM_CUDA_NS

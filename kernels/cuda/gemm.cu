// The backend's GEMM entry points: the kernels and their launchers are in gemm_tiled.cuh and
// gemm_mma.cuh, which the kernel lab includes too (benchmarks/lab/gemm_versions.cuh), so lab and
// library launch one source. This file only instantiates them for the backend's types.
#include "kernels/cuda/gemm_mma.cuh"
#include "kernels/cuda/gemm_tiled.cuh"

namespace gm::GM_CUDA_NS {

template <typename T>
void gemm(const Exec& e, GemmTile tile, const Gemm& s, T alpha, const T* a, const T* b, T beta,
          T* c, const GemmFusion& f) {
  gemm_tiled<T>(e, tile, s, alpha, a, b, beta, c, f);
}

template void gemm<float>(const Exec&, GemmTile, const Gemm&, float, const float*, const float*,
                          float, float*, const GemmFusion&);
template void gemm<double>(const Exec&, GemmTile, const Gemm&, double, const double*, const double*,
                           double, double*, const GemmFusion&);
template void gemm_mma<MmaInput::tf32>(const Exec&, const Gemm&, float, const float*, const float*,
                                       float, float*);
template void gemm_mma<MmaInput::bf16>(const Exec&, const Gemm&, float, const float*, const float*,
                                       float, float*);

}  // namespace gm::GM_CUDA_NS

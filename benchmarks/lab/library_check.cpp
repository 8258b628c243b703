// Lab and library agree: the GEMM version marked "library" in gemm_versions.cuh must give
// bit-identical results to what the emulated CUDA backend (kernels/cuda, device cuda-emu)
// computes for the same inputs. Both add the same fp32 products in the same k order into one
// accumulator, so any difference means the two sources drifted apart. Exit status 1 on a
// mismatch. Built only when the cuda-emu backend exists (benchmarks/lab/CMakeLists.txt).
#include <cstdio>
#include <cstring>
#include <tuple>
#include <vector>

#include "benchmarks/lab/gemm_versions.cuh"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "kernels/common/philox.h"

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(2.0 * gm::philox::uniform(seed, 0, i) - 1.0);
  return v;
}

// Returns true when the lab's library GEMM and the backend's matmul agree bit for bit.
bool same_as_backend(int M, int N, int K) {
  using namespace gm::simt;
  const auto a = random_floats(static_cast<size_t>(M) * K, 11);
  const auto b = random_floats(static_cast<size_t>(K) * N, 12);
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  cudaMalloc(&da, a.size() * sizeof(float));
  cudaMalloc(&db, b.size() * sizeof(float));
  cudaMalloc(&dc, static_cast<size_t>(M) * N * sizeof(float));
  cudaMemcpy(da, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice);
  gm::lab::gemm_library(M, N, K, da, db, dc);
  std::vector<float> lab(static_cast<size_t>(M) * N);
  cudaMemcpy(lab.data(), dc, lab.size() * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);

  const gm::Device emu = gm::Device::cuda_emu();
  const gm::Tensor ta = gm::Tensor::from_vector(a, {M, K}, gm::DType::f32, emu);
  const gm::Tensor tb = gm::Tensor::from_vector(b, {K, N}, gm::DType::f32, emu);
  const std::vector<float> library = gm::matmul(ta, tb).to_vector<float>();

  const bool same = std::memcmp(lab.data(), library.data(), lab.size() * sizeof(float)) == 0;
  std::printf("gemm_library vs cuda-emu matmul, M=%d N=%d K=%d: %s\n", M, N, K,
              same ? "bit-identical" : "DIFFERENT");
  return same;
}

}  // namespace

int main() {
  bool ok = true;
  for (const auto& [m, n, k] : {std::tuple{33, 47, 29}, std::tuple{64, 64, 64},
                                std::tuple{130, 70, 50}, std::tuple{1, 70, 17}})
    ok = same_as_backend(m, n, k) && ok;
  return ok ? 0 : 1;
}

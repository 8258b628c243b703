// Lab and library agree: for each lab kernel (GEMM, masked conv forward, softmax cross-entropy
// over 256), the version the lab marks as the library's (gemm_library, masked_conv_library,
// xent_library: v4, included from kernels/cuda) must give bit-identical results to the emulated
// CUDA backend's op on device cuda-emu for the same inputs. Both include the same kernel source,
// so what this catches is the op layer routing elsewhere: another launch configuration, tiling
// or code path than the one the lab times.
// Exit status 1 on a mismatch. Uses the backend's default knobs (tiled GEMM, 256-thread
// blocks), which are what the lab's launches use; it sets them explicitly in case the
// environment (GM_CUDA_GEMM, GM_CUDA_BLOCK) changed them.
#include <cstdio>
#include <cstring>
#include <tuple>
#include <vector>

#include "benchmarks/lab/gemm_versions.cuh"
#include "benchmarks/lab/masked_conv_versions.cuh"
#include "benchmarks/lab/softmax_xent_versions.cuh"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "kernels/common/mask.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/cuda_backend.h"

namespace {

using gm::Tensor;

std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>(2.0 * gm::philox::uniform(seed, 0, i) - 1.0);
  return v;
}

// A device copy of a host vector, freed with the object.
template <typename T>
struct DeviceCopy {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceCopy(const std::vector<T>& host) : n(host.size()) {
    gm::simt::cudaMalloc(&p, n * sizeof(T));
    gm::simt::cudaMemcpy(p, host.data(), n * sizeof(T), gm::simt::cudaMemcpyHostToDevice);
  }
  ~DeviceCopy() { gm::simt::cudaFree(p); }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
  std::vector<T> download(size_t count) const {
    std::vector<T> host(count);
    gm::simt::cudaMemcpy(host.data(), p, count * sizeof(T), gm::simt::cudaMemcpyDeviceToHost);
    return host;
  }
};

bool report(const char* what, const std::vector<float>& lab, const std::vector<float>& library) {
  const bool same = lab.size() == library.size() &&
                    std::memcmp(lab.data(), library.data(), lab.size() * sizeof(float)) == 0;
  std::printf("%-60s %s\n", what, same ? "bit-identical" : "DIFFERENT");
  return same;
}

bool gemm_matches(int M, int N, int K,
                  void (*lab)(int, int, int, const float*, const float*,
                              float*) = gm::lab::gemm_library,
                  const char* name = "gemm_library") {
  const auto a = random_floats(static_cast<size_t>(M) * K, 11, 1.0f);
  const auto b = random_floats(static_cast<size_t>(K) * N, 12, 1.0f);
  DeviceCopy<float> da(a), db(b), dc(std::vector<float>(static_cast<size_t>(M) * N));
  lab(M, N, K, da.p, db.p, dc.p);
  const gm::Device emu = gm::Device::cuda_emu();
  const Tensor ta = Tensor::from_vector(a, {M, K}, gm::DType::f32, emu);
  const Tensor tb = Tensor::from_vector(b, {K, N}, gm::DType::f32, emu);
  char what[96];
  std::snprintf(what, sizeof what, "%s vs matmul, M=%d N=%d K=%d", name, M, N, K);
  return report(what, dc.download(dc.n), gm::matmul(ta, tb).to_vector<float>());
}

// The lab's masked conv takes weights with the mask already applied (the lab's v1 computes
// every tap); the library skips the masked taps itself, so it gets the same masked weights.
bool conv_matches(const gm::lab::ConvShape& s) {
  const auto x = random_floats(static_cast<size_t>(s.N) * s.C * s.H * s.W, 13, 1.0f);
  auto w = random_floats(static_cast<size_t>(s.K) * s.C * s.k * s.k, 14, 0.5f);
  const gm::MaskType type = s.type_b ? gm::MaskType::B : gm::MaskType::A;
  for (size_t i = 0; i < w.size(); ++i) {
    const int kx = static_cast<int>(i % s.k), ky = static_cast<int>(i / s.k % s.k);
    if (!gm::mask::tap_visible(type, s.k, s.k, ky, kx)) w[i] = 0.0f;
  }
  const size_t outputs = static_cast<size_t>(s.N) * s.K * s.H * s.W;
  DeviceCopy<float> dx(x), dw(w), dy(std::vector<float>(outputs, 0.0f));
  gm::lab::masked_conv_library(s, dx.p, dw.p, dy.p);
  const gm::Device emu = gm::Device::cuda_emu();
  const Tensor tx = Tensor::from_vector(x, {s.N, s.C, s.H, s.W}, gm::DType::f32, emu);
  const Tensor tw = Tensor::from_vector(w, {s.K, s.C, s.k, s.k}, gm::DType::f32, emu);
  const Tensor y =
      gm::masked_conv2d(tx, tw, Tensor(), s.type_b ? gm::MaskType::B : gm::MaskType::A);
  char what[96];
  std::snprintf(what, sizeof what, "masked_conv_library vs masked_conv2d, N%d C%d K%d %dx%d k%d%c",
                s.N, s.C, s.K, s.H, s.W, s.k, s.type_b ? 'B' : 'A');
  return report(what, dy.download(outputs), y.to_vector<float>());
}

// `training`: the lab's v6 against the op with a gradient to record, which runs the backend's
// softmax_xent_forward_stats.
bool xent_matches(int N, int S, bool training) {
  constexpr int V = 256;
  const auto logits = random_floats(static_cast<size_t>(N) * V * S, 15, 8.0f);
  std::vector<uint8_t> target(static_cast<size_t>(N) * S);
  for (size_t i = 0; i < target.size(); ++i)
    target[i] = static_cast<uint8_t>(gm::philox::uniform(16, 0, i) * V);
  DeviceCopy<float> dl(logits), dnll(std::vector<float>(static_cast<size_t>(N)));
  DeviceCopy<uint8_t> dt(target);
  (training ? gm::lab::xent_library_training : gm::lab::xent_library)(N, V, S, dl.p, dt.p, dnll.p);
  const gm::Device emu = gm::Device::cuda_emu();
  Tensor tl = Tensor::from_vector(logits, {N, V, S}, gm::DType::f32, emu);
  if (training) tl.set_requires_grad();
  const Tensor tt = Tensor::from_vector(target, {N, S}, gm::DType::u8, emu);
  char what[112];
  std::snprintf(what, sizeof what, "%s vs softmax_cross_entropy%s, N=%d V=%d S=%d",
                training ? "xent_library_training" : "xent_library", training ? " (recording)" : "",
                N, V, S);
  return report(what, dnll.download(dnll.n), gm::softmax_cross_entropy(tl, tt).to_vector<float>());
}

}  // namespace

int main() {
  gm::CudaBackendBase& emu = gm::cuda_emu_backend();
  emu.set_gemm(gm::CudaGemm::tiled);
  emu.set_block_size(gm::cuda_emu::Exec{}.block);
  bool ok = true;
  // Both tilings (32x32 below 64 rows or columns, else 64x64) and ragged edges.
  for (const auto& [m, n, k] : {std::tuple{33, 47, 29}, std::tuple{64, 64, 64},
                                std::tuple{130, 70, 50}, std::tuple{1, 70, 17}})
    ok = gemm_matches(m, n, k) && ok;
  // Types A and B, kernel sizes 7, 3 and 5, ragged images.
  for (const gm::lab::ConvShape& s :
       {gm::lab::ConvShape{1, 3, 4, 9, 9, 7, false}, gm::lab::ConvShape{2, 5, 3, 17, 20, 3, true},
        gm::lab::ConvShape{1, 4, 2, 13, 6, 5, true}})
    ok = conv_matches(s) && ok;
  // Several chunks per image (S > 256), one position per image, and a ragged S.
  for (const auto& [n, s] : {std::tuple{2, 300}, std::tuple{3, 1}, std::tuple{1, 37}})
    for (const bool training : {false, true})
      ok = xent_matches(n, s, training) && ok;
  // The tensor-core kernel: the lab's v6/v7 against the backend with GM_CUDA_GEMM=tensor.
  emu.set_gemm(gm::CudaGemm::tensor);
  for (const auto& [m, n, k] : {std::tuple{33, 47, 29}, std::tuple{130, 70, 50}}) {
    emu.set_matmul_precision(gm::MatmulPrecision::tf32);
    ok = gemm_matches(m, n, k, gm::lab::gemm_v6, "gemm_v6_tf32") && ok;
    emu.set_matmul_precision(gm::MatmulPrecision::bf16);
    ok = gemm_matches(m, n, k, gm::lab::gemm_v7, "gemm_v7_bf16") && ok;
  }
  emu.set_matmul_precision(gm::MatmulPrecision::fp32);
  emu.set_gemm(gm::CudaGemm::tiled);
  return ok ? 0 : 1;
}

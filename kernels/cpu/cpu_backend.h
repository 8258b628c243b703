#pragma once
// The CPU backend: plain loops (OpenMP over the outer dimension) and OpenBLAS for GEMM.
// It is the reference every other device is tested against, so clarity comes before speed
// except in the GEMM-shaped hot paths (conv, linear). Definitions are split by kernel
// family: cpu_backend.cpp (memory, fills, copies), elementwise.cpp, gemm.cpp, conv.cpp,
// softmax_xent.cpp, lstm_cell.cpp, gaussian.cpp, likelihoods.cpp (model kernels), optim.cpp.
#include "engine/backend.h"
#include "kernels/cpu/block_cache.h"

namespace gm {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  // clang-format off: the entries of engine/backend_ops.def
  // The fused convolutions: the bias starts the GEMM's accumulator, the ReLU is taken while
  // building the columns, the residual is the GEMM's epilogue (conv.cpp).
#define GM_BACKEND_ENTRY(ret, name, params) ret name params override;
#define GM_FUSED_CONV_ENTRY(ret, name, params) ret name params override;
#include "engine/backend_ops.def"
  // clang-format on
  // The optional entries it also overrides: the bias gradient summed in the weight-gradient
  // pass (conv.cpp), the softmax statistics kept for the backward (softmax_xent.cpp).
  void conv2d_backward_weight_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                   bool relu, const Tensor& dy, Tensor& dw, Tensor& db) override;
  void softmax_xent_forward_stats(const Tensor& logits, const Tensor& target, Tensor& nll,
                                  Tensor& stats) override;
  void softmax_xent_backward_stats(const Tensor& logits, const Tensor& target, const Tensor& stats,
                                   const Tensor& dnll, Tensor& dlogits) override;

  // Host memory through the block cache (kernels/cpu/block_cache.h): peak and cached bytes.
  HostMemoryStats memory_stats() const {
    return cache_.stats();
  }
  void reset_peak_memory() {
    cache_.reset_peak();
  }

 private:
  BlockCache cache_;
};

CpuBackend& cpu_backend();

}  // namespace gm

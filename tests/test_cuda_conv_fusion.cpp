// The convolutions' GEMM fusion on cuda-emu (kernels/cuda/launch.h, GemmFusion): relu(x)
// read as B is loaded, relu' and the residual in the epilogue, the bias as where the sum starts,
// masked weights read in place and the bias gradient summed inside the weight-gradient GEMM. The
// fused op must give the separate ops' bits (but for the bias gradient, whose rounding order
// changes), in fewer launches; under the tensor-core GEMM, which takes no fusion, the backend
// runs the unfused sequence and still gives the separate ops' bits.
#include <cmath>
#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "tests/support.h"

using namespace gm;

namespace {

struct Layer {
  int64_t kernel;
  MaskType type;
  int groups;
};

struct Outputs {
  std::vector<double> y, dx, dw, db, dr;
};

struct Run {
  Outputs values;
  std::vector<double> abs_dy;     // per channel, sum |dy| over images and positions
  uint64_t forward_launches = 0;  // the convolution's forward alone
  uint64_t launches = 0;          // forward and backward of the whole loss
};

// relu_masked_conv2d(x, w, b, r) fused, or as the separate ops relu, masked_conv2d without
// bias, the bias's broadcasting add and the residual's add, with the loss sum(y * seed).
Run run(const Layer& l, DType dtype, bool fused) {
  const Device emu = Device::cuda_emu();
  Generator gen(17);
  auto leaf = [&](const Shape& s) {
    return Tensor::uniform(s, -1, 1, gen, dtype).to(emu).set_requires_grad();
  };
  // Odd sizes: ragged tiles, no vector loads; 6 channels split into 3 colour groups.
  Tensor x = leaf({3, 6, 7, 5}), w = leaf({9, 6, l.kernel, l.kernel}), b = leaf({9});
  Tensor r = leaf({3, 9, 7, 5});
  const Tensor seed = leaf({3, 9, 7, 5}).detach();
  Run out;
  const CudaCounters before = *cuda_counters(emu);
  const Tensor y =
      fused ? relu_masked_conv2d(x, w, b, l.type, l.groups, r)
            : masked_conv2d(relu(x), w, Tensor(), l.type, l.groups) + reshape(b, {9, 1, 1}) + r;
  out.forward_launches = (*cuda_counters(emu) - before).kernel_launches;
  sum(y * seed).backward();
  out.launches = (*cuda_counters(emu) - before).kernel_launches;
  out.values = {y.to_vector<double>(), x.grad().to_vector<double>(), w.grad().to_vector<double>(),
                b.grad().to_vector<double>(), r.grad().to_vector<double>()};
  const std::vector<double> dy = seed.to_vector<double>();  // the loss's gradient of y
  out.abs_dy.assign(9, 0.0);
  for (size_t i = 0; i < dy.size(); ++i)
    out.abs_dy[i / 35 % 9] += std::abs(dy[i]);
  return out;
}

}  // namespace

TEST_CASE("cuda-emu: fused convolutions equal the separate ops bit for bit, bias gradient aside",
          "[cuda][conv]") {
  struct Restore {  // the GEMM knob, whatever happens
    CudaBackendBase& emu = cuda_emu_backend();
    CudaGemm gemm = emu.gemm_kernel();
    ~Restore() { emu.set_gemm(gemm); }
  } restore;
  CudaBackendBase& emu = restore.emu;
  // pixelcnn-ref's layers (a 1x1, which reads x and writes dx in the GEMM, a 3x3 type B and the
  // 7x7 type A, both of whose weights are read in place) and a colour-grouped 3x3, whose
  // centre tap needs the gathered weights.
  const std::vector<Layer> layers = {
      {1, MaskType::B, 1}, {3, MaskType::B, 1}, {7, MaskType::A, 1}, {3, MaskType::B, 3}};
  for (CudaGemm kind : {CudaGemm::tiled, CudaGemm::tensor}) {
    emu.set_gemm(kind);
    for (DType dtype : {DType::f32, DType::f64}) {
      for (const Layer& l : layers) {
        INFO((kind == CudaGemm::tiled ? "tiled" : "tensor")
             << " " << dtype_name(dtype) << " " << l.kernel << "x" << l.kernel << " groups "
             << l.groups);
        const Run fused = run(l, dtype, true), separate = run(l, dtype, false);
        CHECK(fused.values.y == separate.values.y);
        CHECK(fused.values.dx == separate.values.dx);
        CHECK(fused.values.dw == separate.values.dw);
        CHECK(fused.values.dr == separate.values.dr);
        // The bias gradient changes its rounding order: the fused GEMM sums dy in double,
        // images then positions in order, and rounds once to T; the separate add's backward
        // reduces one dimension at a time (3 reductions), each accumulated in double and
        // rounded to T. A double sum of n = 105 terms is within (n - 1) 2^-53 S of the exact
        // one (S = sum |dy| of the channel), and each of the at most 4 roundings to T adds at
        // most u S (u = 2^-24 in float, 2^-53 in double), so the two differ by at most
        // (4 u + 2 x 104 x 2^-53) S.
        const double u = dtype == DType::f32 ? 0x1p-24 : 0x1p-53;
        REQUIRE(fused.values.db.size() == separate.values.db.size());
        for (size_t c = 0; c < fused.values.db.size(); ++c)
          CHECK(std::abs(fused.values.db[c] - separate.values.db[c]) <=
                (4 * u + 2 * 104 * 0x1p-53) * separate.abs_dy[c]);
        // What the fusion saves: relu(x) twice, relu', the bias and the residual, the gathers
        // and the bias gradient's reduction; the tensor cores (float32) run them unfused.
        // Fused, the forward is the GEMM alone (1x1), im2col and the GEMM (masked kernels read in
        // place) or the weights' gather before them (colour groups); unfused, the bias and the
        // residual are launches of their own, a 1x1's relu(x) too.
        const bool fuses = kind == CudaGemm::tiled || dtype == DType::f64;
        if (fuses) {
          CHECK(fused.forward_launches == (l.kernel == 1 ? 1u : l.groups == 1 ? 2u : 3u));
          CHECK(fused.launches < separate.launches);
        } else {
          CHECK(fused.forward_launches == (l.kernel == 1 ? 4u : 5u));
        }
      }
    }
  }
}

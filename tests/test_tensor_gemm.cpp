// The tensor-core GEMM (kernels/cuda/gemm_mma.cuh) on cuda-emu against float64 oracles, alone
// and under the convolutions, in TF32 and BF16.
//
// Tolerance, derived per element from the rounding. Let u be the input format's unit
// roundoff (TF32 keeps 10 of float32's 23 mantissa bits: u = 2^-11; BF16 keeps 7: u = 2^-8),
// u32 = 2^-24 float32's, and S = sum_k |a_k| |b_k| the element's sum of absolute products
// (computed in float64 from the unrounded inputs). Rounding each input to nearest moves it by at
// most u times itself, so each product by at most (2u + u^2) |a_k b_k|; the product of two
// rounded inputs is exact in float32 (11 + 11 or 8 + 8 significant bits <= 24). Summing n terms
// in float32 in any order (the mma chain, and for convolutions the col2im gather or the
// per-image partials) adds at most gamma_n = n u32 / (1 - n u32) times the sum of their
// absolute values, which is at most (1 + u)^2 S. So
//     |got - exact| <= (2u + u^2) S + gamma_n (1 + u)^2 S,
// with n the number of terms plus 3 for the epilogue (alpha, beta C, their sum; alpha and beta
// are exact here). No margin is added: the bound is rigorous for the emulator's arithmetic.
#include <cmath>
#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "tests/support.h"

using namespace gm;

namespace {

struct Knobs {
  CudaBackendBase& emu = cuda_emu_backend();
  CudaGemm gemm = emu.gemm_kernel();
  MatmulPrecision precision = emu.matmul_precision();
  ~Knobs() {
    emu.set_gemm(gemm);
    emu.set_matmul_precision(precision);
  }
};

double unit_roundoff(MatmulPrecision p) {
  return p == MatmulPrecision::bf16 ? 0x1p-8 : 0x1p-11;
}

double bound(MatmulPrecision p, double s, int64_t terms) {
  const double u = unit_roundoff(p), u32 = 0x1p-24;
  const double n = static_cast<double>(terms + 3);
  const double gamma = n * u32 / (1 - n * u32);
  return (2 * u + u * u) * s + gamma * (1 + u) * (1 + u) * s;
}

Tensor uniform(const Shape& shape, uint64_t seed, Device d, DType dtype = DType::f32) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1, 1, gen, dtype).to(d);
}

// Element-wise |got - want| <= tol[i], with the first failure reported.
void check_within(const std::vector<double>& got, const std::vector<double>& want,
                  const std::vector<double>& tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) <= tol[i]) continue;
    FAIL(what << ": element " << i << " is " << got[i] << ", the float64 oracle " << want[i]
              << ", beyond the rounding bound " << tol[i]);
  }
  SUCCEED(what);
}

std::vector<double> abs_values(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  for (double& x : v)
    x = std::abs(x);
  return v;
}

}  // namespace

TEST_CASE("cuda-emu tensor-core GEMM: every transpose, TF32 and BF16, within the rounding bound",
          "[cuda][mma]") {
  Knobs knobs;
  knobs.emu.set_gemm(CudaGemm::tensor);
  const Device emu = Device::cuda_emu(), cpu = Device::cpu();
  for (MatmulPrecision p : {MatmulPrecision::tf32, MatmulPrecision::bf16}) {
    knobs.emu.set_matmul_precision(p);
    for (int trans = 0; trans < 8; ++trans) {
      // Odd sizes take the element-by-element loads and ragged tiles; multiples of 4 the
      // 16-byte loads. k = 37 is more than two slices of 16, with a partial last one.
      const bool vector = trans >= 4;
      Gemm g;
      g.trans_a = trans & 1;
      g.trans_b = trans & 2;
      g.m = vector ? 68 : 37;
      g.n = vector ? 72 : 70;
      g.k = vector ? 36 : 37;
      g.batch = 2;
      g.stride_a = g.m * g.k;
      g.stride_b = g.k * g.n;
      g.stride_c = g.m * g.n;
      g.alpha = trans % 2 ? 1.0 : -0.5;
      g.beta = trans % 3 == 0 ? 0.0 : 0.5;
      const Tensor a = uniform({g.batch * g.m * g.k}, 21 + trans, emu);
      const Tensor b = uniform({g.batch * g.k * g.n}, 31 + trans, emu);
      // C on the CPU, so that the device's copy is a copy: the oracle needs the original.
      const Tensor c0 = uniform({g.batch * g.m * g.n}, 41 + trans, cpu);
      Tensor c = g.beta == 0.0 ? Tensor::empty(c0.shape(), DType::f32, emu) : c0.to(emu);
      backend_for(emu).gemm(g, a, b, c);

      // The oracle in float64 on the CPU, and S from |A| |B| the same way.
      const Tensor a64 = a.to(cpu).to(DType::f64), b64 = b.to(cpu).to(DType::f64);
      Tensor want = c0.to(DType::f64);
      backend_for(cpu).gemm(g, a64, b64, want);
      Gemm gs = g;
      gs.alpha = std::abs(g.alpha);
      gs.beta = 0.0;
      Tensor s = Tensor::empty(want.shape(), DType::f64, cpu);
      backend_for(cpu).gemm(gs, Tensor::from_vector(abs_values(a), a.shape(), DType::f64, cpu),
                            Tensor::from_vector(abs_values(b), b.shape(), DType::f64, cpu), s);
      std::vector<double> tol = s.to_vector<double>();
      const std::vector<double> c_abs = abs_values(c0);
      for (size_t i = 0; i < tol.size(); ++i)
        tol[i] = bound(p, tol[i] + std::abs(g.beta) * c_abs[i], g.k);
      check_within(c.to_vector<double>(), want.to_vector<double>(), tol,
                   fmt::format("{} trans {}", p == MatmulPrecision::bf16 ? "bf16" : "tf32", trans));
    }
  }
}

TEST_CASE("cuda-emu tensor-core GEMM leaves float64 products unrounded", "[cuda][mma]") {
  Knobs knobs;
  knobs.emu.set_gemm(CudaGemm::tensor);
  knobs.emu.set_matmul_precision(MatmulPrecision::bf16);
  const Device emu = Device::cuda_emu(), cpu = Device::cpu();
  Gemm g;
  g.m = 9;
  g.n = 11;
  g.k = 13;
  const Tensor a = uniform({g.m * g.k}, 5, emu, DType::f64),
               b = uniform({g.k * g.n}, 6, emu, DType::f64);
  Tensor c = Tensor::empty({g.m * g.n}, DType::f64, emu),
         want = Tensor::empty(c.shape(), DType::f64, cpu);
  backend_for(emu).gemm(g, a, b, c);
  backend_for(cpu).gemm(g, a.to(cpu), b.to(cpu), want);
  // Both sum 13 products of size <= 1 in float64 in possibly different orders: 2 x 13 x 2^-53
  // is below 1e-14, far below BF16's 2^-8.
  gm::test::require_close(c.to_vector<double>(), want.to_vector<double>(), 1e-14, 0,
                          "f64 under the tensor kernel");
}

TEST_CASE("cuda-emu convolutions on the tensor-core GEMM, within the rounding bound",
          "[cuda][mma]") {
  struct Spec {
    int64_t n, c, h, w, k, kh, kw, pad;
    MaskType type;
  };
  // pixelcnn-ref's kinds of layer: the 7x7 type A, a 3x3 type B, a 1x1 (one batched GEMM).
  const std::vector<Spec> specs = {{2, 1, 9, 8, 5, 7, 7, 3, MaskType::A},
                                   {2, 6, 7, 9, 7, 3, 3, 1, MaskType::B},
                                   {3, 20, 5, 6, 17, 1, 1, 0, MaskType::none}};
  Knobs knobs;
  knobs.emu.set_gemm(CudaGemm::tensor);
  const Device emu = Device::cuda_emu(), cpu = Device::cpu();
  Backend& host = backend_for(cpu);
  for (MatmulPrecision p : {MatmulPrecision::tf32, MatmulPrecision::bf16}) {
    knobs.emu.set_matmul_precision(p);
    for (const Spec& sp : specs) {
      Conv2dGeometry g;
      g.batch = sp.n;
      g.in_channels = sp.c;
      g.height = sp.h;
      g.width = sp.w;
      g.out_channels = sp.k;
      g.kernel_h = sp.kh;
      g.kernel_w = sp.kw;
      g.pad_h = g.pad_w = sp.pad;
      const ConvMask mask{sp.type, 1};
      const Shape xs = {g.batch, g.in_channels, g.height, g.width};
      const Shape ws = {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
      const Shape ys = {g.batch, g.out_channels, g.out_height(), g.out_width()};
      const Tensor x = uniform(xs, 51, emu), w = uniform(ws, 52, emu), dy = uniform(ys, 53, emu);
      Tensor y = Tensor::empty(ys, DType::f32, emu), dx = Tensor::empty(xs, DType::f32, emu),
             dw = Tensor::empty(ws, DType::f32, emu);
      Backend& dev = backend_for(emu);
      dev.conv2d_forward(g, mask, x, w, y);
      dev.conv2d_backward_data(g, mask, dy, w, dx);
      dev.conv2d_backward_weight(g, mask, x, dy, dw);

      // Oracles in float64, and S: the same op on absolute values.
      auto f64 = [&](const Tensor& t, bool absolute) {
        return absolute ? Tensor::from_vector(abs_values(t), t.shape(), DType::f64, cpu)
                        : t.to(cpu).to(DType::f64);
      };
      std::vector<double> want[3], s[3];
      for (int absolute = 0; absolute < 2; ++absolute) {
        Tensor oy = Tensor::empty(ys, DType::f64, cpu), odx = Tensor::empty(xs, DType::f64, cpu),
               odw = Tensor::empty(ws, DType::f64, cpu);
        host.conv2d_forward(g, mask, f64(x, absolute), f64(w, absolute), oy);
        host.conv2d_backward_data(g, mask, f64(dy, absolute), f64(w, absolute), odx);
        host.conv2d_backward_weight(g, mask, f64(x, absolute), f64(dy, absolute), odw);
        std::vector<double>* out = absolute ? s : want;
        out[0] = oy.to_vector<double>();
        out[1] = odx.to_vector<double>();
        out[2] = odw.to_vector<double>();
      }
      // Terms per output: forward C kh kw, backward data K kh kw, backward weight N OH OW
      // (masked taps only remove terms, so these are upper bounds).
      const int64_t taps = g.kernel_h * g.kernel_w;
      const int64_t terms[3] = {g.in_channels * taps, g.out_channels * taps,
                                g.batch * g.out_height() * g.out_width()};
      const Tensor got[3] = {y, dx, dw};
      const char* names[3] = {"forward", "backward data", "backward weight"};
      for (int i = 0; i < 3; ++i) {
        std::vector<double> tol = s[i];
        for (double& t : tol)
          t = bound(p, t, terms[i]);
        check_within(got[i].to_vector<double>(), want[i], tol,
                     fmt::format("{} {}x{} {}", p == MatmulPrecision::bf16 ? "bf16" : "tf32", sp.kh,
                                 sp.kw, names[i]));
      }
    }
  }
}

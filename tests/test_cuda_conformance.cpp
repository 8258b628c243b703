// Every gm::Backend method of the emulated CUDA device against the CPU backend, for several
// block sizes (and both GEMM tilings): the op tests check cuda-emu against float64 oracles,
// this file checks that no launch configuration changes a result. Every case of the op
// catalogue (support/op_catalogue.h) runs first, forward and backward; the kernel-level checks
// after it add shapes and launch settings the cases do not reach (cast pairs, long reductions,
// every GEMM transpose and tiling, optimizer options).
//
// Tolerances: with the same formulas (kernels/common) compiled by the same compiler, elementwise
// kernels agree to the last bit, but we only require 1e-6 (f32) / 1e-13 (f64) relative, since
// the CPU build may vectorise differently. Kernels that sum (GEMM, convolution, reductions) add
// in a different order: a sum of K terms of size ~1 may differ by ~K float epsilons, which is
// what `sum_tol` allows.
#include <algorithm>
#include <cmath>
#include <functional>

#include "kernels/cuda/cuda_backend.h"
#include "support/op_catalogue.h"
#include "tests/support.h"

using namespace gm;
using gm::test::require_close;

namespace {

// Outputs of one kernel call on a device; inputs are made inside from fixed seeds.
using Run = std::function<std::vector<Tensor>(Device, DType)>;

const std::vector<int> kBlockSizes = {32, 64, 256, 1024};

Tensor input(const Shape& shape, double low, double high, DType dtype, Device device,
             uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(shape, low, high, gen, dtype).to(device);
}

// Restores cuda-emu's knobs when a test ends, whatever happened.
struct KnobGuard {
  CudaBackendBase& emu = cuda_emu_backend();
  int block = emu.block_size();
  CudaGemm gemm = emu.gemm_kernel();
  ~KnobGuard() {
    emu.set_block_size(block);
    emu.set_gemm(gemm);
  }
};

// Two orders of adding `terms` values of size ~1 each stay within terms x unit roundoff of the
// exact sum (u = 6e-8 in float, 1.1e-16 in double), so they differ by at most twice that:
// 2e-7 per term is 2 x 1.19e-7 (float epsilon = 2u) rounded up, 1e-13 the same with a large
// margin for double. The +8 covers the few roundings around the sum (bias, scaling, a final
// exp or log in the fused kernels) that do not grow with the number of terms.
double sum_tol(DType dtype, int64_t terms) {
  const double n = static_cast<double>(terms + 8);
  return dtype == DType::f32 ? 2e-7 * n : 1e-13 * n;
}

// Runs `run` on the CPU and on cuda-emu with every block size and compares all outputs.
void compare(const std::string& what, DType dtype, double tol, const Run& run) {
  KnobGuard guard;
  const std::vector<Tensor> want = run(Device::cpu(), dtype);
  for (int block : kBlockSizes) {
    guard.emu.set_block_size(block);
    const std::vector<Tensor> got = run(Device::cuda_emu(), dtype);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i)
      require_close(got[i].to_vector<double>(), want[i].to_vector<double>(), tol, tol,
                    fmt::format("{} ({}, output {}, block {})", what, dtype_name(dtype), i, block));
  }
}

void compare_floats(const std::string& what, double f32_tol, double f64_tol, const Run& run) {
  compare(what, DType::f32, f32_tol, run);
  compare(what, DType::f64, f64_tol, run);
}

// A catalogue case's output and, when it is differentiable, its inputs' gradients of
// sum(output * fixed weights), on `device` in `dtype`.
std::vector<Tensor> case_results(const catalogue::OpCase& c, Device device, DType dtype) {
  std::vector<Tensor> inputs;
  for (const Tensor& t : catalogue::make_inputs(c)) {
    Tensor x = t.to(dtype).to(device);
    if (c.differentiable) x.set_requires_grad();
    inputs.push_back(x);
  }
  const Tensor out = c.op(inputs);
  std::vector<Tensor> results = {out.detach()};
  if (c.differentiable) {
    sum(out * input(out.shape(), -1.0, 1.0, dtype, device, 9)).backward();
    for (const Tensor& x : inputs)
      results.push_back(x.grad());
  }
  return results;
}

}  // namespace

TEST_CASE("cuda-emu: every catalogue case matches the CPU for every block size", "[cuda]") {
  for (const catalogue::OpCase& c : catalogue::op_catalogue()) {
    for (DType dtype : c.dtypes) {
      // CPU and cuda-emu each lie within the case's tolerance of the oracle, so within twice
      // that of each other. Gradients sum more terms than the forward (over every position that
      // uses a weight), so they get the float32 tolerance of a 100-term sum on top.
      const bool f32 = dtype == DType::f32;
      const double tol =
          2 * (f32 ? c.f32_atol + c.f32_rtol : c.f64_atol + c.f64_rtol) + sum_tol(dtype, 100);
      compare(c.name, dtype, tol, [&c](Device d, DType dt) { return case_results(c, d, dt); });
    }
  }
}

TEST_CASE("cuda-emu: the implicit-GEMM convolution forward equals im2col + GEMM bit for bit",
          "[cuda]") {
  // Both sum each output over (ci, tap) in the same order with the same tiled GEMM's
  // arithmetic: every convolution case of the catalogue (masks, colour groups, strides,
  // padding, rectangular kernels) must give identical bits, in fewer launches (no im2col).
  CudaBackendBase& emu = cuda_emu_backend();
  struct Restore {
    CudaBackendBase& emu;
    ~Restore() { emu.set_conv_forward(CudaConvForward::im2col); }
  } restore{emu};
  uint64_t im2col_launches = 0, implicit_launches = 0;
  int compared = 0;
  for (const catalogue::OpCase& c : catalogue::op_catalogue()) {
    if (std::find(c.entries.begin(), c.entries.end(), "conv2d_forward") == c.entries.end())
      continue;
    for (DType dtype : c.dtypes) {
      std::vector<Tensor> inputs;
      for (const Tensor& t : catalogue::make_inputs(c))
        inputs.push_back(t.to(dtype).to(Device::cuda_emu()));
      auto forward = [&](CudaConvForward kind, uint64_t& launches) {
        emu.set_conv_forward(kind);
        const uint64_t before = emu.counters().kernel_launches;
        std::vector<double> out = c.op(inputs).to_vector<double>();
        launches += emu.counters().kernel_launches - before;
        return out;
      };
      const std::vector<double> want = forward(CudaConvForward::im2col, im2col_launches);
      INFO(c.name << " " << dtype_name(dtype));
      CHECK(forward(CudaConvForward::implicit, implicit_launches) == want);
      ++compared;
    }
  }
  CHECK(compared >= 10);
  CHECK(implicit_launches < im2col_launches);
}

TEST_CASE("cuda-emu: fills, casts and strided copies equal the CPU's exactly", "[cuda]") {
  for (DType t : {DType::f32, DType::f64, DType::u8, DType::i32}) {
    compare("fill/arange", t, 0.0, [](Device d, DType dt) {
      Tensor a = Tensor::full({37}, 3.0, dt, d), b = Tensor::arange(41, dt, d);
      return std::vector<Tensor>{a, b};
    });
    for (DType to : {DType::f32, DType::f64, DType::u8, DType::i32}) {
      compare(fmt::format("cast to {}", dtype_name(to)), t, 0.0, [to](Device d, DType dt) {
        const Tensor x = Tensor::arange(53, DType::f64, d).to(dt);
        Tensor y = Tensor::empty(x.shape(), to, d);
        backend_for(d).cast(x, y);
        return std::vector<Tensor>{y};
      });
    }
    // A [3, 5, 7] box out of a [4, 6, 9] tensor, transposed into a [7, 5, 3] one.
    compare("strided_copy", t, 0.0, [](Device d, DType dt) {
      const Tensor src = Tensor::arange(4 * 6 * 9, DType::f64, d).to(dt);
      Tensor dst = Tensor::zeros({7 + 1, 5, 3}, dt, d);
      StridedCopy box;
      box.ndim = 3;
      box.extent = {3, 5, 7};
      box.src_stride = {54, 9, 1};
      box.dst_stride = {1, 3, 15};
      box.src_offset = 54 + 9 + 2;
      box.dst_offset = 15;
      backend_for(d).strided_copy(src, dst, box);
      return std::vector<Tensor>{dst};
    });
  }
}

TEST_CASE("cuda-emu: elementwise kernels match the CPU for every block size", "[cuda]") {
  for (int op = 0; op <= static_cast<int>(UnaryOp::affine); ++op) {
    const auto u = static_cast<UnaryOp>(op);
    // log and sqrt need positive inputs; the others take both signs.
    const bool positive = u == UnaryOp::log || u == UnaryOp::sqrt;
    compare_floats(fmt::format("unary {}", op), 1e-6, 1e-13, [u, positive](Device d, DType dt) {
      const UnaryParams p{0.7, 1.5, -0.25};
      const Tensor x = input({3, 5, 13}, positive ? 0.1 : -3.0, 3.0, dt, d, 1);
      const Tensor dy = input({3, 5, 13}, -1.0, 1.0, dt, d, 2);
      Tensor y = Tensor::empty(x.shape(), dt, d), dx = Tensor::empty(x.shape(), dt, d);
      backend_for(d).unary(u, p, x, y);
      backend_for(d).unary_backward(u, p, x, y, dy, dx);
      return std::vector<Tensor>{y, dx};
    });
  }
  for (int op = 0; op <= static_cast<int>(BinaryOp::div); ++op) {
    const auto bop = static_cast<BinaryOp>(op);
    compare_floats(fmt::format("binary {}", op), 1e-6, 1e-13, [bop](Device d, DType dt) {
      const Tensor a = input({3, 1, 7}, 0.5, 2.0, dt, d, 3),
                   b = input({1, 5, 7}, 0.5, 2.0, dt, d, 4);
      const Tensor c = input({3, 5, 7}, 0.5, 2.0, dt, d, 5);
      Tensor y = Tensor::empty({3, 5, 7}, dt, d), z = Tensor::empty({3, 5, 7}, dt, d);
      backend_for(d).binary(bop, a, b, y);  // broadcast both ways
      backend_for(d).binary(bop, c, y, z);  // same shapes
      return std::vector<Tensor>{y, z};
    });
  }
  compare_floats("axpy", 1e-6, 1e-13, [](Device d, DType dt) {
    Tensor y = input({301}, -1, 1, dt, d, 6);
    backend_for(d).axpy(-0.75, input({301}, -1, 1, dt, d, 7), y);
    return std::vector<Tensor>{y};
  });
}

TEST_CASE("cuda-emu: sum_axis matches the CPU for rows, columns and long reductions", "[cuda]") {
  struct View {
    int64_t outer, n, inner;
  };
  for (View v : {View{5, 7, 1}, View{3, 2500, 1}, View{1, 1, 9}, View{4, 11, 6}, View{1, 3001, 1},
                 View{2, 0, 3}}) {
    const double tol = sum_tol(DType::f64, v.n);  // summed in double on both devices
    compare_floats(fmt::format("sum_axis [{}, {}, {}]", v.outer, v.n, v.inner), tol, tol,
                   [v](Device d, DType dt) {
                     const Tensor x = input({v.outer, v.n, v.inner}, -1, 1, dt, d, 8);
                     Tensor y = Tensor::empty({v.outer, v.inner}, dt, d);
                     backend_for(d).sum_axis(x, y, v.outer, v.n, v.inner);
                     return std::vector<Tensor>{y};
                   });
  }
}

TEST_CASE("cuda-emu: our tiled GEMM matches BLAS for every transpose, batch and tiling", "[cuda]") {
  KnobGuard guard;
  for (CudaGemm tile : {CudaGemm::tiled64, CudaGemm::tiled32}) {
    guard.emu.set_gemm(tile);
    // Odd sizes load element by element; multiples of 4 take the 16-byte loads, with tiles
    // still ragged at the edges.
    for (int trans = 0; trans < 8; ++trans) {
      const bool vector = trans >= 4;
      Gemm g;
      g.trans_a = trans & 1;
      g.trans_b = trans & 2;
      g.m = vector ? 36 : 37;
      g.n = vector ? 68 : 70;
      g.k = vector ? 28 : 29;
      g.batch = 3;
      g.stride_a = g.m * g.k;
      g.stride_b = trans % 4 == 3 ? 0 : g.k * g.n;  // a stride of 0 reuses one B for the batch
      g.stride_c = g.m * g.n;
      for (double beta : {0.0, 0.5}) {
        g.alpha = 1.25;
        g.beta = beta;
        const std::string what = fmt::format("gemm tile {} trans {} beta {}",
                                             tile == CudaGemm::tiled64 ? 64 : 32, trans, beta);
        compare_floats(what, sum_tol(DType::f32, g.k), sum_tol(DType::f64, g.k),
                       [g](Device d, DType dt) {
                         const Tensor a = input({g.batch * g.m * g.k}, -1, 1, dt, d, 9);
                         const Tensor b = input({g.batch * g.k * g.n}, -1, 1, dt, d, 10);
                         // With beta = 0, C is uninitialised (NaN on cuda-emu): never read.
                         Tensor c = g.beta == 0.0 ? Tensor::empty({g.batch * g.m * g.n}, dt, d)
                                                  : input({g.batch * g.m * g.n}, -1, 1, dt, d, 11);
                         backend_for(d).gemm(g, a, b, c);
                         return std::vector<Tensor>{c};
                       });
      }
    }
  }
}

TEST_CASE("cuda-emu: convolutions match the CPU, masked and strided", "[cuda]") {
  struct Spec {
    int64_t n, c, h, w, k, kh, kw, stride, pad_h, pad_w;
    MaskType type;
    int groups;
  };
  const std::vector<Spec> specs = {
      {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, MaskType::none, 1},
      {1, 2, 9, 8, 3, 3, 5, 2, 0, 2, MaskType::none, 1},  // strided, non-square
      {2, 1, 5, 5, 5, 7, 7, 1, 3, 3, MaskType::A, 1},     // pixelcnn-ref's first layer
      {1, 6, 4, 5, 3, 3, 3, 1, 1, 1, MaskType::B, 3},     // colour groups
      {2, 3, 5, 4, 6, 1, 1, 1, 0, 0, MaskType::A, 3},
  };
  for (const Spec& s : specs) {
    Conv2dGeometry g;
    g.batch = s.n;
    g.in_channels = s.c;
    g.height = s.h;
    g.width = s.w;
    g.out_channels = s.k;
    g.kernel_h = s.kh;
    g.kernel_w = s.kw;
    g.stride = s.stride;
    g.pad_h = s.pad_h;
    g.pad_w = s.pad_w;
    const ConvMask mask{s.type, s.groups};
    const int64_t terms = std::max(s.c * s.kh * s.kw, s.n * g.out_height() * g.out_width());
    compare_floats(
        fmt::format("conv {}x{} stride {} mask {} groups {}", s.kh, s.kw, s.stride,
                    static_cast<int>(s.type), s.groups),
        sum_tol(DType::f32, terms), sum_tol(DType::f64, terms), [g, mask](Device d, DType dt) {
          const Shape ys = {g.batch, g.out_channels, g.out_height(), g.out_width()};
          const Tensor x = input({g.batch, g.in_channels, g.height, g.width}, -1, 1, dt, d, 12);
          const Tensor w =
              input({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, -1, 1, dt, d, 13);
          const Tensor dy = input(ys, -1, 1, dt, d, 14);
          Tensor y = Tensor::empty(ys, dt, d), dx = Tensor::empty(x.shape(), dt, d),
                 dw = Tensor::empty(w.shape(), dt, d);
          Backend& b = backend_for(d);
          b.conv2d_forward(g, mask, x, w, y);
          b.conv2d_backward_data(g, mask, dy, w, dx);
          b.conv2d_backward_weight(g, mask, x, dy, dw);
          return std::vector<Tensor>{y, dx, dw};
        });
  }
}

TEST_CASE("cuda-emu: fused model kernels match the CPU", "[cuda]") {
  const int64_t N = 3, V = 256, S = 5;
  for (DType target_type : {DType::u8, DType::i32}) {
    compare_floats(
        "softmax_xent", sum_tol(DType::f32, V), sum_tol(DType::f64, V),
        [target_type](Device d, DType dt) {
          const Tensor logits = input({N, V, S}, -4, 4, dt, d, 15);
          const Tensor target = input({N, S}, 0, 255.99, DType::f64, d, 16).to(target_type);
          const Tensor dnll = input({N}, -1, 1, dt, d, 17);
          Tensor nll = Tensor::empty({N}, dt, d), dl = Tensor::empty(logits.shape(), dt, d);
          Tensor drawn = Tensor::empty({N, S}, DType::i32, d);
          backend_for(d).softmax_xent_forward(logits, target, nll);
          backend_for(d).softmax_xent_backward(logits, target, dnll, dl);
          backend_for(d).sample_categorical(logits, 0.8, 99, 1000, drawn);
          return std::vector<Tensor>{nll, dl, drawn};
        });
  }
  for (int missing = 0; missing < 3; ++missing) {  // dh, dc or neither undefined
    compare_floats("lstm_cell", 1e-6, 1e-13, [missing](Device d, DType dt) {
      const Tensor gates = input({2, 4 * 3, 5}, -3, 3, dt, d, 18);
      const Tensor c_prev = input({2, 3, 5}, -2, 2, dt, d, 19);
      Tensor h = Tensor::empty(c_prev.shape(), dt, d), c = Tensor::empty(c_prev.shape(), dt, d);
      backend_for(d).lstm_cell_forward(gates, c_prev, h, c);
      const Tensor dh = missing == 1 ? Tensor() : input(c_prev.shape(), -1, 1, dt, d, 20);
      const Tensor dc = missing == 2 ? Tensor() : input(c_prev.shape(), -1, 1, dt, d, 21);
      Tensor dgates = Tensor::empty(gates.shape(), dt, d),
             dcp = Tensor::empty(c_prev.shape(), dt, d);
      backend_for(d).lstm_cell_backward(gates, c_prev, c, dh, dc, dgates, dcp);
      return std::vector<Tensor>{h, c, dgates, dcp};
    });
  }
  compare_floats("gaussian sample and KL", sum_tol(DType::f32, 67), sum_tol(DType::f64, 67),
                 [](Device d, DType dt) {
                   const Tensor mu = input({3, 67}, -2, 2, dt, d, 22);
                   const Tensor logvar = input({3, 67}, -3, 1, dt, d, 23);
                   const Tensor dz = input({3, 67}, -1, 1, dt, d, 24);
                   const Tensor dkl = input({3}, -1, 1, dt, d, 25);
                   Backend& b = backend_for(d);
                   auto like = [&](const Tensor& t) { return Tensor::empty(t.shape(), dt, d); };
                   Tensor eps = like(mu), z = like(mu), dmu = like(mu), dlv = like(mu);
                   Tensor kl = like(dkl), kdmu = like(mu), kdlv = like(mu);
                   b.gaussian_sample_forward(mu, logvar, 7, 300, eps, z);
                   b.gaussian_sample_backward(logvar, eps, dz, dmu, dlv);
                   b.kl_std_normal_forward(mu, logvar, kl);
                   b.kl_std_normal_backward(mu, logvar, dkl, kdmu, kdlv);
                   return std::vector<Tensor>{eps, z, dmu, dlv, kl, kdmu, kdlv};
                 });
  compare_floats("bernoulli and discretized logistic", sum_tol(DType::f32, 290),
                 sum_tol(DType::f64, 290), [](Device d, DType dt) {
                   const Shape s = {2, 290};
                   const Tensor logits = input(s, -6, 6, dt, d, 26);
                   const Tensor target = input(s, 0, 1, dt, d, 27);
                   // Pixel values 0..255 on the [-1, 1] grid, both end bins included.
                   const Tensor x = mul_scalar(Tensor::arange(580, DType::f64, d), 255.0 / 579.0)
                                        .to(DType::f32)
                                        .to(DType::u8)
                                        .to(DType::f64);
                   const Tensor xs =
                       reshape(add_scalar(mul_scalar(x, 2.0 / 255.0), -1.0), s).to(dt);
                   const Tensor mean = input(s, -1, 1, dt, d, 28), ls = input(s, -5, 0, dt, d, 29);
                   const Tensor dnll = input({2}, -1, 1, dt, d, 30);
                   Backend& b = backend_for(d);
                   auto like = [&](const Tensor& t) { return Tensor::empty(t.shape(), dt, d); };
                   Tensor bn = like(dnll), bdl = like(logits), ln = like(dnll), ldm = like(mean),
                          ldls = like(mean);
                   b.bernoulli_nll_forward(logits, target, bn);
                   b.bernoulli_nll_backward(logits, target, dnll, bdl);
                   b.discretized_logistic_nll_forward(xs, mean, ls, ln);
                   b.discretized_logistic_nll_backward(xs, mean, ls, dnll, ldm, ldls);
                   return std::vector<Tensor>{bn, bdl, ln, ldm, ldls};
                 });
}

TEST_CASE("cuda-emu: optimizer steps match the CPU", "[cuda]") {
  for (bool decoupled : {true, false}) {
    compare_floats("adam", 1e-6, 1e-13, [decoupled](Device d, DType dt) {
      Tensor p = input({131}, -1, 1, dt, d, 31), m = input({131}, -0.1, 0.1, dt, d, 32),
             v = input({131}, 0, 0.01, dt, d, 33);
      AdamStep s;
      s.lr = 0.01;
      s.weight_decay = 0.1;
      s.decoupled = decoupled;
      s.step = 3;
      backend_for(d).adam_update(s, p, input({131}, -1, 1, dt, d, 34), m, v);
      return std::vector<Tensor>{p, m, v};
    });
  }
  for (int variant = 0; variant < 3; ++variant) {  // plain, momentum, Nesterov
    compare_floats("sgd", 1e-6, 1e-13, [variant](Device d, DType dt) {
      Tensor p = input({131}, -1, 1, dt, d, 35);
      Tensor buf = variant == 0 ? Tensor() : input({131}, -0.1, 0.1, dt, d, 36);
      SgdStep s;
      s.lr = 0.05;
      s.weight_decay = 0.01;
      s.momentum = variant == 0 ? 0.0 : 0.9;
      s.nesterov = variant == 2;
      backend_for(d).sgd_update(s, p, input({131}, -1, 1, dt, d, 37), buf);
      return variant == 0 ? std::vector<Tensor>{p} : std::vector<Tensor>{p, buf};
    });
  }
}

// The properties that make masked convolutions autoregressive, checked on the op itself:
// causality in raster order, exactly-zero gradients for masked weights, masked taps never
// touched, the FLOP count, and the pictures docs/masked-convolution.md shows. Also: large shapes
// checked through their adjoint identities, and the ops' error messages.
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/random.h"
#include "kernels/common/mask.h"
#include "tests/support.h"

using namespace gm;

namespace {

struct MaskSpec {
  MaskType type;
  int groups;
  int64_t C, K, k;
};

std::string describe(const MaskSpec& m) {
  return fmt::format("mask {} groups {} C {} K {} kernel {}", m.type == MaskType::A ? "A" : "B",
                     m.groups, m.C, m.K, m.k);
}

const std::vector<MaskSpec> kSpecs = {
    {MaskType::A, 1, 1, 2, 3}, {MaskType::B, 1, 2, 3, 3}, {MaskType::A, 1, 2, 2, 5},
    {MaskType::A, 3, 3, 6, 5}, {MaskType::B, 3, 6, 3, 3}, {MaskType::B, 3, 3, 3, 1},
    {MaskType::A, 3, 3, 3, 3}, {MaskType::B, 1, 1, 2, 7},
};

bool visible(const MaskSpec& m, int64_t ky, int64_t kx, int64_t ci, int64_t co) {
  return mask::weight_visible(m.type, m.groups, m.k, m.k, ky, kx, ci, m.C, co, m.K);
}

// A direct "same" convolution (stride 1, padding k/2) of square images, in double.
std::vector<double> direct_same_conv(const std::vector<double>& x, const std::vector<double>& w,
                                     int64_t N, int64_t C, int64_t S, int64_t K, int64_t k,
                                     MaskType type) {
  std::vector<double> y(static_cast<size_t>(N * K * S * S), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < K; ++co)
      for (int64_t oy = 0; oy < S; ++oy)
        for (int64_t ox = 0; ox < S; ++ox) {
          double acc = 0.0;
          for (int64_t ci = 0; ci < C; ++ci)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t iy = oy + ky - k / 2, ix = ox + kx - k / 2;
                if (iy < 0 || iy >= S || ix < 0 || ix >= S) continue;
                if (!mask::weight_visible(type, 1, k, k, ky, kx, ci, C, co, K)) continue;
                acc += x[static_cast<size_t>(((n * C + ci) * S + iy) * S + ix)] *
                       w[static_cast<size_t>(((co * C + ci) * k + ky) * k + kx)];
              }
          y[static_cast<size_t>(((n * K + co) * S + oy) * S + ox)] = acc;
        }
  return y;
}

}  // namespace

TEST_CASE("masked conv output ignores the current and later pixels in raster order",
          "[ops][conv][mask]") {
  // Exhaustive on a small image: perturb every input element in turn and look at every output.
  const int64_t H = 4, W = 5;
  for (DType dtype : {DType::f64, DType::f32})
    for (const MaskSpec& m : kSpecs) {
      INFO(describe(m) << " in " << dtype_name(dtype));
      Generator gen(7);
      const Tensor x = Tensor::uniform({1, m.C, H, W}, -1, 1, gen, dtype);
      const Tensor w = Tensor::uniform({m.K, m.C, m.k, m.k}, -1, 1, gen, dtype);
      const Tensor b = Tensor::uniform({m.K}, -1, 1, gen, dtype);
      const std::vector<double> y0 = masked_conv2d(x, w, b, m.type, m.groups).to_vector<double>();
      std::vector<double> xs = x.to_vector<double>();
      int64_t violations = 0;
      std::string first;
      for (int64_t ci = 0; ci < m.C; ++ci)
        for (int64_t qy = 0; qy < H; ++qy)
          for (int64_t qx = 0; qx < W; ++qx) {
            const size_t e = static_cast<size_t>((ci * H + qy) * W + qx);
            const double saved = xs[e];
            xs[e] += 0.5;
            const std::vector<double> y1 =
                masked_conv2d(Tensor::from_vector(xs, x.shape(), dtype), w, b, m.type, m.groups)
                    .to_vector<double>();
            xs[e] = saved;
            for (int64_t co = 0; co < m.K; ++co)
              for (int64_t py = 0; py < H; ++py)
                for (int64_t px = 0; px < W; ++px) {
                  const bool changed = y1[static_cast<size_t>((co * H + py) * W + px)] !=
                                       y0[static_cast<size_t>((co * H + py) * W + px)];
                  // Stated from raster order alone (independent of mask.h): later pixels never
                  // matter; the current pixel only through earlier (A) or same-or-earlier (B)
                  // colour groups; the left and upper neighbours always do.
                  const int64_t q = qy * W + qx, p = py * W + px;
                  const int64_t gi = ci / (m.C / m.groups), go = co / (m.K / m.groups);
                  bool want_causal = true, must_change = false;
                  if (q > p) want_causal = !changed;
                  if (q == p) {
                    const bool allowed = gi < go || (gi == go && m.type == MaskType::B);
                    want_causal = changed == allowed;
                  }
                  if (m.k >= 3 && ((qy == py && qx == px - 1) || (qx == px && qy == py - 1)))
                    must_change = true;
                  // The exact dependency structure: inside the window, visible weights only.
                  const int64_t ky = qy - py + m.k / 2, kx = qx - px + m.k / 2;
                  const bool in_window = ky >= 0 && ky < m.k && kx >= 0 && kx < m.k;
                  const bool want = in_window && visible(m, ky, kx, ci, co);
                  if (!want_causal || (must_change && !changed) || changed != want) {
                    if (violations++ == 0)
                      first = fmt::format(
                          "input (c{}, {}, {}) -> output (k{}, {}, {}): changed={} expected={}", ci,
                          qy, qx, co, py, px, changed, want);
                  }
                }
          }
      INFO(first);
      CHECK(violations == 0);
    }
}

TEST_CASE("masked weights get exactly zero gradient and are never read", "[ops][conv][mask]") {
  for (DType dtype : {DType::f64, DType::f32})
    for (const MaskSpec& m : kSpecs) {
      INFO(describe(m) << " in " << dtype_name(dtype));
      Generator gen(11);
      const Shape ws = {m.K, m.C, m.k, m.k};
      Tensor x = Tensor::uniform({2, m.C, 5, 6}, -1, 1, gen, dtype).set_requires_grad();
      Tensor w = Tensor::uniform(ws, -1, 1, gen, dtype).set_requires_grad();
      const Tensor r = Tensor::uniform({2, m.K, 5, 6}, -1, 1, gen, dtype);
      const Tensor y = masked_conv2d(x, w, Tensor(), m.type, m.groups);
      sum(y * r).backward();
      const std::vector<double> dw = w.grad().to_vector<double>();
      // Masked weights set to NaN: a kernel that multiplied them by zero would output NaN.
      std::vector<double> poisoned = w.to_vector<double>();
      int64_t wrong_grads = 0;
      for (int64_t co = 0; co < m.K; ++co)
        for (int64_t ci = 0; ci < m.C; ++ci)
          for (int64_t ky = 0; ky < m.k; ++ky)
            for (int64_t kx = 0; kx < m.k; ++kx) {
              const size_t i = static_cast<size_t>(((co * m.C + ci) * m.k + ky) * m.k + kx);
              // Visible weights' gradients are sums of random products: never exactly 0.
              if (visible(m, ky, kx, ci, co) ? dw[i] == 0.0 : dw[i] != 0.0) ++wrong_grads;
              if (!visible(m, ky, kx, ci, co))
                poisoned[i] = std::numeric_limits<double>::quiet_NaN();
            }
      CHECK(wrong_grads == 0);
      Tensor wp = Tensor::from_vector(poisoned, ws, dtype).set_requires_grad();
      Tensor xp = x.detach().clone().set_requires_grad();
      const Tensor yp = masked_conv2d(xp, wp, Tensor(), m.type, m.groups);
      CHECK(yp.to_vector<double>() == y.to_vector<double>());
      sum(yp * r).backward();
      CHECK(xp.grad().to_vector<double>() == x.grad().to_vector<double>());
    }
}

TEST_CASE("masked conv equals conv2d with the mask multiplied into the weights",
          "[ops][conv][mask]") {
  // Two independent code paths: gathered taps versus the full kernel with zeros.
  for (DType dtype : {DType::f64, DType::f32})
    for (const MaskSpec& m : kSpecs) {
      INFO(describe(m) << " in " << dtype_name(dtype));
      Generator gen(13);
      const Tensor x = Tensor::uniform({3, m.C, 7, 9}, -1, 1, gen, dtype);
      const Tensor w = Tensor::uniform({m.K, m.C, m.k, m.k}, -1, 1, gen, dtype);
      std::vector<double> mask_values;
      for (int64_t co = 0; co < m.K; ++co)
        for (int64_t ci = 0; ci < m.C; ++ci)
          for (int64_t ky = 0; ky < m.k; ++ky)
            for (int64_t kx = 0; kx < m.k; ++kx)
              mask_values.push_back(visible(m, ky, kx, ci, co) ? 1.0 : 0.0);
      const Tensor wm = w * Tensor::from_vector(mask_values, w.shape(), dtype);
      const auto got = masked_conv2d(x, w, Tensor(), m.type, m.groups).to_vector<double>();
      const auto want = conv2d(x, wm, Tensor(), 1, m.k / 2).to_vector<double>();
      // Same products, different summation order: L = C k^2 terms of size <= 1 (bound L^2 u).
      const double L = static_cast<double>(m.C * m.k * m.k);
      const double u = dtype == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
      gm::test::require_close(got, want, 2 * L * L * u, 0.0, describe(m));
    }
}

TEST_CASE("a 7x7 type A mask computes less than 0.55 of the plain convolution's FLOPs",
          "[ops][conv][mask]") {
  // Counting, not timing: multiply-adds per output pixel = visible weights (K x visible taps).
  const int64_t C = 1, K = 64, k = 7;
  const int64_t plain = C * K * k * k;
  const int64_t masked_a = mask::visible_weight_count(MaskType::A, 1, k, k, C, K);
  const double ratio = static_cast<double>(masked_a) / static_cast<double>(plain);
  INFO(fmt::format("7x7 A 1->64: {} of {} multiply-adds per pixel (ratio {:.3f})", masked_a, plain,
                   ratio));
  CHECK(mask::used_tap_count(MaskType::A, 1, k, k) == 24);  // the GEMM's K dimension is C * 24
  CHECK(masked_a == K * 24);
  CHECK(ratio < 0.55);
  // With colour groups the centre tap comes back, partially: still under the bound.
  const int64_t grouped = mask::visible_weight_count(MaskType::A, 3, k, k, 3, 6);
  CHECK(mask::used_tap_count(MaskType::A, 3, k, k) == 25);
  CHECK(grouped == 24 * 18 + 6);  // R->G, R->B, G->B at the centre: 3 pairs x 2 outputs each
  CHECK(static_cast<double>(grouped) / (18.0 * 49.0) < 0.55);
  CHECK(mask::visible_weight_count(MaskType::B, 1, 3, 3, 32, 32) == 5 * 32 * 32);
}

TEST_CASE("stacked 3x3 masks have a blind spot to the upper right", "[ops][conv][mask]") {
  // MaskA 3x3 then 3 x MaskB 3x3, all weights 1 (no cancellation), 1 channel, 9x9 image; output
  // pixel (4, 4). A pixel d rows up is reachable only up to d columns to the right, because the
  // only tap that moves right also moves up: (3, 6) precedes (4, 4) in raster order yet is unseen.
  const Tensor w = Tensor::ones({1, 1, 3, 3}, DType::f64);
  auto sees = [&](int64_t row, int64_t col) {
    std::vector<double> x(81, 0.0);
    x[static_cast<size_t>(row * 9 + col)] = 1.0;
    Tensor h = masked_conv2d(Tensor::from_vector(x, {1, 1, 9, 9}), w, Tensor(), MaskType::A);
    for (int i = 0; i < 3; ++i)
      h = masked_conv2d(h, w, Tensor(), MaskType::B);
    return h.to_vector<double>()[4 * 9 + 4] != 0.0;
  };
  CHECK(sees(3, 5));
  CHECK_FALSE(sees(3, 6));  // the blind spot
  CHECK(sees(2, 6));
  CHECK_FALSE(sees(2, 7));
  CHECK(sees(4, 0));
  CHECK_FALSE(sees(4, 4));  // type A first: never the pixel itself
}

TEST_CASE("mask pictures", "[mask]") {
  CHECK(mask::picture(MaskType::A, 1, 5) ==
        "x x x x x\n"
        "x x x x x\n"
        "x x . . .\n"
        ". . . . .\n"
        ". . . . .\n");
  CHECK(mask::picture(MaskType::B, 1, 5) ==
        "x x x x x\n"
        "x x x x x\n"
        "x x x . .\n"
        ". . . . .\n"
        ". . . . .\n");
  CHECK(mask::picture(MaskType::A, 3, 3) ==
        "x x x\n"
        "x c .\n"
        ". . .\n"
        "centre tap c: input group (columns) -> output group (rows)\n"
        "  R G B\n"
        "R . . .\n"
        "G x . .\n"
        "B x x .\n");
  CHECK(mask::picture(MaskType::B, 3, 3) ==
        "x x x\n"
        "x c .\n"
        ". . .\n"
        "centre tap c: input group (columns) -> output group (rows)\n"
        "  R G B\n"
        "R x . .\n"
        "G x x .\n"
        "B x x x\n");
}

TEST_CASE("large convolutions keep their adjoint identities", "[ops][conv]") {
  // 64 channels x 7x7 taps x 28x28 pixels: 9.8 MB of columns per image in float32, the column
  // buffer reused across three images. A convolution is bilinear in (x, w): with
  // L = sum(conv(x, w) * r), <x, dL/dx> = L = <w, dL/dw>, which catches a lost or doubled image
  // or tap in either backward. The forward is checked against direct loops in double.
  for (DType dtype : {DType::f64, DType::f32})
    for (MaskType type : {MaskType::none, MaskType::A}) {
      INFO(dtype_name(dtype) << (type == MaskType::A ? " masked A" : " plain"));
      Generator gen(17);
      Tensor x = Tensor::uniform({3, 64, 28, 28}, -1, 1, gen, dtype).set_requires_grad();
      Tensor w = Tensor::uniform({2, 64, 7, 7}, -0.1, 0.1, gen, dtype).set_requires_grad();
      const Tensor r = Tensor::uniform({3, 2, 28, 28}, -1, 1, gen, dtype);
      const Tensor y = type == MaskType::none ? conv2d(x, w, Tensor(), 1, 3)
                                              : masked_conv2d(x, w, Tensor(), type);
      const Tensor loss = sum(y * r);
      loss.backward();
      const double l = loss.item();
      const double via_x = sum(x.detach() * x.grad()).item();
      const double via_w = sum(w.detach() * w.grad()).item();
      // float32 sums of ~1e5 terms of size ~0.1 lose ~1e-3 relative; float64 ~1e-12.
      const double tol = (dtype == DType::f32 ? 2e-3 : 1e-10) * (1.0 + std::abs(l));
      CHECK(std::abs(via_x - l) <= tol);
      CHECK(std::abs(via_w - l) <= tol);
      // float32: 3136 products of size <= 0.1: bound L u sum|terms| = 3136 * 6e-8 * 314 ~ 6e-2,
      // a loose worst case; 1e-3 is ample for the typical random-sign error (~sqrt(L) u 314).
      gm::test::require_close(
          y.to_vector<double>(),
          direct_same_conv(x.to_vector<double>(), w.to_vector<double>(), 3, 64, 28, 2, 7, type),
          dtype == DType::f32 ? 1e-3 : 1e-11, 0.0, "forward vs direct loops");
    }
}

TEST_CASE("convolution errors name the tensors and the expected shapes", "[ops][conv][errors]") {
  const Tensor x = Tensor::zeros({2, 3, 5, 7});
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor()),
                      Catch::Contains("weight [4, 2, 3, 3]") && Catch::Contains("x [2, 3, 5, 7]"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({5})),
                      Catch::Contains("bias has shape [5], expected [4]"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({4, 3, 7, 7}), Tensor()),
                      Catch::Contains("does not fit"));
  REQUIRE_THROWS_WITH(conv2d(Tensor::zeros({3, 5, 7}), Tensor::zeros({4, 3, 3, 3}), Tensor()),
                      Catch::Contains("x must be [N, C, H, W]"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({4, 3, 3, 3}, DType::f64), Tensor()),
                      Catch::Contains("dtypes differ"));
  REQUIRE_THROWS_WITH(conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), 0),
                      Catch::Contains("stride must be >= 1"));
  REQUIRE_THROWS_WITH(masked_conv2d(x, Tensor::zeros({4, 3, 4, 4}), Tensor(), MaskType::A),
                      Catch::Contains("odd kernel sizes"));
  REQUIRE_THROWS_WITH(masked_conv2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), MaskType::B, 3),
                      Catch::Contains("3 colour groups must divide") && Catch::Contains("(4,"));
  REQUIRE_THROWS_WITH(conv_transpose2d(x, Tensor::zeros({3, 4, 3, 3}), Tensor(), 2, 0, 2),
                      Catch::Contains("output_padding must be in [0, stride)"));
  REQUIRE_THROWS_WITH(conv_transpose2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor()),
                      Catch::Contains("layout [C, K, kh, kw]"));
}

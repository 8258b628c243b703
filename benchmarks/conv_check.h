#pragma once
// Validation for bench_cpu_ops: before a kernel is timed, its results are compared with direct
// loops in double on a slice (the first and last image; a sample of weight gradients), so the
// benchmark can never report the speed of a wrong answer.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "kernels/common/mask.h"

namespace gm::bench {

// Float32 sums of `terms` products: error <= terms * u * sum|products| (u = 2^-24) in the worst
// case; for long sums the random-walk estimate 8 sqrt(terms) u sum|products| is the realistic
// one (a lost tap or image is still orders of magnitude larger).
inline void expect_close(const std::string& what, double got, double want, double sum_abs,
                         int64_t terms) {
  const double t = static_cast<double>(terms);
  const double tol = std::min(t, 8.0 * std::sqrt(t)) * std::ldexp(1.0, -24) * sum_abs + 1e-6;
  GM_CHECK(std::abs(got - want) <= tol,
           "validation failed for {}: got {:.8g}, expected {:.8g} (|diff| {:.3g} > tol {:.3g})",
           what, got, want, std::abs(got - want), tol);
}

inline void check_conv(const std::string& name, const Conv2dGeometry& g, const ConvMask& m,
                       const Tensor& x_t, const Tensor& w_t, const Tensor& dy_t, const Tensor& y_t,
                       const Tensor& dx_t, const Tensor& dw_t) {
  const std::vector<double> x = x_t.to_vector<double>(), w = w_t.to_vector<double>(),
                            dy = dy_t.to_vector<double>(), y = y_t.to_vector<double>(),
                            dx = dx_t.to_vector<double>(), dw = dw_t.to_vector<double>();
  const int64_t C = g.in_channels, K = g.out_channels, H = g.height, W = g.width;
  const int64_t kh = g.kernel_h, kw = g.kernel_w, OH = g.out_height(), OW = g.out_width();
  auto xi = [&](int64_t n, int64_t c, int64_t iy, int64_t ix) {
    return static_cast<size_t>(((n * C + c) * H + iy) * W + ix);
  };
  auto yi = [&](int64_t n, int64_t k, int64_t oy, int64_t ox) {
    return static_cast<size_t>(((n * K + k) * OH + oy) * OW + ox);
  };
  auto wi = [&](int64_t k, int64_t c, int64_t ky, int64_t kx) {
    return static_cast<size_t>(((k * C + c) * kh + ky) * kw + kx);
  };
  auto visible = [&](int64_t k, int64_t c, int64_t ky, int64_t kx) {
    return mask::weight_visible(m.type, m.colour_groups, kh, kw, ky, kx, c, C, k, K);
  };
  // Calls f(k, c, ky, kx, oy, ox, iy, ix) for every visible product of one image.
  auto for_each_product = [&](auto&& f) {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * g.stride - g.pad_h + ky, ix = ox * g.stride - g.pad_w + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W && visible(k, c, ky, kx))
                  f(k, c, ky, kx, oy, ox, iy, ix);
              }
  };
  for (int64_t n : {int64_t{0}, g.batch - 1}) {
    std::vector<double> y_ref(static_cast<size_t>(K * OH * OW)), y_abs(y_ref.size());
    std::vector<double> dx_ref(static_cast<size_t>(C * H * W)), dx_abs(dx_ref.size());
    for_each_product([&](int64_t k, int64_t c, int64_t ky, int64_t kx, int64_t oy, int64_t ox,
                         int64_t iy, int64_t ix) {
      const size_t o = yi(0, k, oy, ox), i = xi(0, c, iy, ix);
      y_ref[o] += x[xi(n, c, iy, ix)] * w[wi(k, c, ky, kx)];
      y_abs[o] += std::abs(x[xi(n, c, iy, ix)] * w[wi(k, c, ky, kx)]);
      dx_ref[i] += dy[yi(n, k, oy, ox)] * w[wi(k, c, ky, kx)];
      dx_abs[i] += std::abs(dy[yi(n, k, oy, ox)] * w[wi(k, c, ky, kx)]);
    });
    for (size_t o = 0; o < y_ref.size(); ++o)
      expect_close(fmt::format("{} forward, image {}, output {}", name, n, o),
                   y[static_cast<size_t>(n) * y_ref.size() + o], y_ref[o], y_abs[o], C * kh * kw);
    for (size_t i = 0; i < dx_ref.size(); ++i)
      expect_close(fmt::format("{} backward data, image {}, input {}", name, n, i),
                   dx[static_cast<size_t>(n) * dx_ref.size() + i], dx_ref[i], dx_abs[i],
                   K * kh * kw);
  }
  // Weight gradients: every masked one must be exactly 0; a spread of visible ones is summed
  // over the whole batch.
  const int64_t sample_step = std::max<int64_t>(1, static_cast<int64_t>(dw.size()) / 97);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx) {
          const size_t j = wi(k, c, ky, kx);
          if (!visible(k, c, ky, kx)) {
            GM_CHECK(dw[j] == 0.0, "validation failed for {}: masked weight {} has gradient {}",
                     name, j, dw[j]);
            continue;
          }
          if (static_cast<int64_t>(j) % sample_step != 0) continue;
          double want = 0, sum_abs = 0;
          for (int64_t n = 0; n < g.batch; ++n)
            for (int64_t oy = 0; oy < OH; ++oy)
              for (int64_t ox = 0; ox < OW; ++ox) {
                const int64_t iy = oy * g.stride - g.pad_h + ky, ix = ox * g.stride - g.pad_w + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                want += dy[yi(n, k, oy, ox)] * x[xi(n, c, iy, ix)];
                sum_abs += std::abs(dy[yi(n, k, oy, ox)] * x[xi(n, c, iy, ix)]);
              }
          expect_close(fmt::format("{} backward weight {}", name, j), dw[j], want, sum_abs,
                       g.batch * OH * OW);
        }
}

// c = a b, db = a^T dc, da = dc b^T, checked on ~100 entries of each.
inline void check_matmul(const std::string& name, const Tensor& a_t, const Tensor& b_t,
                         const Tensor& dc_t, const Tensor& c_t, const Tensor& db_t,
                         const Tensor& da_t) {
  const int64_t M = a_t.size(0), K = a_t.size(1), N = b_t.size(1);
  const std::vector<double> a = a_t.to_vector<double>(), b = b_t.to_vector<double>(),
                            dc = dc_t.to_vector<double>(), c = c_t.to_vector<double>(),
                            db = db_t.to_vector<double>(), da = da_t.to_vector<double>();
  auto at = [](const std::vector<double>& v, int64_t cols, int64_t r, int64_t col) {
    return v[static_cast<size_t>(r * cols + col)];
  };
  for (int64_t s = 0; s < 101; ++s) {
    const int64_t m = (s * 37) % M, n = (s * 7919) % N, k = (s * 13) % K;
    double want = 0, abs_sum = 0;
    for (int64_t i = 0; i < K; ++i) {
      want += at(a, K, m, i) * at(b, N, i, n);
      abs_sum += std::abs(at(a, K, m, i) * at(b, N, i, n));
    }
    expect_close(name + " forward", at(c, N, m, n), want, abs_sum, K);
    want = abs_sum = 0;
    for (int64_t i = 0; i < M; ++i) {
      want += at(a, K, i, k) * at(dc, N, i, n);
      abs_sum += std::abs(at(a, K, i, k) * at(dc, N, i, n));
    }
    expect_close(name + " backward data", at(db, N, k, n), want, abs_sum, M);
    want = abs_sum = 0;
    for (int64_t i = 0; i < N; ++i) {
      want += at(dc, N, m, i) * at(b, N, k, i);
      abs_sum += std::abs(at(dc, N, m, i) * at(b, N, k, i));
    }
    expect_close(name + " backward weight", at(da, K, m, k), want, abs_sum, N);
  }
}

}  // namespace gm::bench

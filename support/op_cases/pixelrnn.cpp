// The PixelRNN recurrences: skewing (a strided copy each way) and the LSTM scan, against
// plain loops in double.
#include "support/op_catalogue.h"

#include <cmath>
#include <string>

#include <fmt/format.h>

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// The scan as plain loops in double: x [N, 4h, T, L], w [4h, h, k], b [4h] -> h [N, h, T, L].
// Gate channel of gate q (i, f, o, g) of hidden unit u: (group, gate, unit) order.
struct ScanGeometry {
  int64_t n, h, t, l, k, pad, groups;
};
HostValues scan_oracle(const ScanGeometry& s, const HostValues& x, const HostValues& w,
                       const HostValues& b) {
  const int64_t hg = s.h / s.groups, g4 = 4 * s.h;
  auto gate_channel = [&](int64_t q, int64_t u) { return (u / hg) * 4 * hg + q * hg + u % hg; };
  auto at = [](const HostValues& v, int64_t i) { return v[static_cast<size_t>(i)]; };
  HostValues out(static_cast<size_t>(s.n * s.h * s.t * s.l));
  std::vector<double> h_prev(static_cast<size_t>(s.n * s.h * s.l), 0.0), c_prev = h_prev;
  for (int64_t step = 0; step < s.t; ++step) {
    std::vector<double> h_new(h_prev.size()), c_new(h_prev.size());
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t u = 0; u < s.h; ++u)
        for (int64_t l = 0; l < s.l; ++l) {
          double pre[4];
          for (int64_t q = 0; q < 4; ++q) {
            const int64_t ch = gate_channel(q, u);
            double v = at(x, ((n * g4 + ch) * s.t + step) * s.l + l) + at(b, ch);
            for (int64_t c = 0; c < s.h; ++c)
              for (int64_t j = 0; j < s.k; ++j) {
                const int64_t src = l + j - s.pad;
                if (src < 0 || src >= s.l) continue;
                v += at(w, (ch * s.h + c) * s.k + j) *
                     h_prev[static_cast<size_t>((n * s.h + c) * s.l + src)];
              }
            pre[q] = v;
          }
          const size_t i = static_cast<size_t>((n * s.h + u) * s.l + l);
          c_new[i] = sigmoid_ref(pre[1]) * c_prev[i] + sigmoid_ref(pre[0]) * std::tanh(pre[3]);
          h_new[i] = sigmoid_ref(pre[2]) * std::tanh(c_new[i]);
          out[static_cast<size_t>(((n * s.h + u) * s.t + step) * s.l + l)] = h_new[i];
        }
    h_prev = h_new;
    c_prev = c_new;
  }
  return out;
}

OpCase scan_case(std::string name, ScanGeometry s) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = {{s.n, 4 * s.h, s.t, s.l}, {4 * s.h, s.h, s.k}, {4 * s.h}};
  c.op = [s](const std::vector<Tensor>& in) {
    return lstm_scan(in[0], in[1], in[2], s.pad, s.groups);
  };
  c.reference = [s](const std::vector<HostValues>& in) {
    return scan_oracle(s, in[0], in[1], in[2]);
  };
  // Inputs in [-1, 1]; gates sum up to h*k + 2 such terms, then squash: float32 rounding stays
  // near 1e-6 after T steps.
  c.f32_atol = 2e-5;
  c.f32_rtol = 2e-5;
  return c;
}

// Which skew: the picture layout [N, C, H, H+W-1] or the scan's transposed [N, C, H+W-1, H],
// the latter also width-reversed.
struct SkewSpec {
  bool columns = false, reverse = false;
};

// Pixel (r, j) of an [N, C, H, W] map and its place in the skewed map: skewed column r + jj
// with jj = j (or W-1-j when reversed), at row r.
int64_t skewed_index(const SkewSpec& k, int64_t nc, int64_t h, int64_t w, int64_t r, int64_t j) {
  const int64_t ws = h + w - 1, col = r + (k.reverse ? w - 1 - j : j);
  return k.columns ? (nc * ws + col) * h + r : (nc * h + r) * ws + col;
}

// skew (unskewed x [N, C, H, W] in) or unskew (skewed s in), with zeros off the pixels.
OpCase skew_case(SkewSpec k, bool inverse, const Shape& image) {
  const int64_t nc = image[0] * image[1], h = image[2], w = image[3], ws = h + w - 1;
  const Shape skewed =
      k.columns ? Shape{image[0], image[1], ws, h} : Shape{image[0], image[1], h, ws};
  OpCase c;
  c.name = fmt::format("{}{}{} {}", inverse ? "unskew" : "skew", k.columns ? "_columns" : "",
                       k.reverse ? " reversed" : "", shape_str(image));
  c.shapes = {inverse ? skewed : image};
  c.op = [k, inverse](const std::vector<Tensor>& x) {
    if (k.columns) return inverse ? unskew_columns(x[0], k.reverse) : skew_columns(x[0], k.reverse);
    return inverse ? unskew(x[0]) : skew(x[0]);
  };
  c.reference = [k, inverse, nc, h, w, image, skewed](const std::vector<HostValues>& x) {
    HostValues y(static_cast<size_t>(shape_numel(inverse ? image : skewed)), 0.0);
    for (int64_t p = 0; p < nc; ++p)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t j = 0; j < w; ++j) {
          const auto pixel = static_cast<size_t>((p * h + r) * w + j);
          const auto at = static_cast<size_t>(skewed_index(k, p, h, w, r, j));
          if (inverse)
            y[pixel] = x[0][at];
          else
            y[at] = x[0][pixel];
        }
    return y;
  };
  return c;  // copies only: exact in every dtype, so the default tolerances hold with room
}

}  // namespace

void add_pixelrnn_cases(std::vector<OpCase>& to) {
  // Wider than tall, taller than wide (the last row's pixels end in column H+W-2, past 2W-2)
  // and square; H != W also shows a swapped height and width.
  const std::vector<Shape> images = {{2, 3, 4, 5}, {2, 2, 6, 5}, {1, 3, 3, 3}};
  std::vector<OpCase> skew_cases, unskew_cases, skew_columns_cases, unskew_columns_cases;
  for (const Shape& image : images) {
    skew_cases.push_back(skew_case({}, false, image));
    unskew_cases.push_back(skew_case({}, true, image));
    for (bool reverse : {false, true}) {
      skew_columns_cases.push_back(skew_case({true, reverse}, false, image));
      unskew_columns_cases.push_back(skew_case({true, reverse}, true, image));
    }
  }
  add_cases(to, "skew", {"strided_copy", "fill"}, std::move(skew_cases));
  add_cases(to, "unskew", {"strided_copy", "fill"}, std::move(unskew_cases));
  add_cases(to, "skew_columns", {"strided_copy", "fill"}, std::move(skew_columns_cases));
  add_cases(to, "unskew_columns", {"strided_copy", "fill"}, std::move(unskew_columns_cases));
  // Row LSTM geometry (kernel 3 over the previous row), Diagonal geometry (kernel 2: rows r-1
  // and r), and colour groups (gate order (group, gate, unit)). The scan entries; their
  // default (the CPU's) runs per step one GEMM and the fused cell, and the backward adds the
  // state gradients of the taps (axpy).
  add_cases(to, "lstm_scan",
            {"lstm_scan_forward", "lstm_scan_backward", "gemm", "lstm_cell_forward",
             "lstm_cell_backward", "strided_copy", "fill", "axpy"},
            {scan_case("row geometry", {2, 3, 4, 5, 3, 1, 1}),
             scan_case("diagonal geometry", {2, 2, 5, 3, 2, 1, 1}),
             scan_case("three colour groups", {1, 3, 3, 4, 3, 1, 3})});
}

}  // namespace gm::catalogue

// Convolutions: conv2d, masked conv2d and conv_transpose2d against direct scalar loops in double.
#include "support/op_catalogue.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/mask.h"

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

struct ConvSpec {
  int64_t N = 2, C = 3, H = 5, W = 7, K = 5, kh = 3, kw = 3, stride = 1, pad = 0;
  MaskType type = MaskType::none;  // masked cases: stride 1, padding k/2 (the op's definition)
  int groups = 1;
  bool bias = true;
  int64_t out_h() const { return (H + 2 * pad - kh) / stride + 1; }
  int64_t out_w() const { return (W + 2 * pad - kw) / stride + 1; }
};

// The oracle: seven loops of a direct cross-correlation; weights the mask hides are left out.
HostValues conv_oracle(const ConvSpec& s, const HostValues& x, const HostValues& w,
                       const HostValues* b) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  HostValues y(static_cast<size_t>(s.N * s.K * oh * ow));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b ? (*b)[k] : 0.0;
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                if (!mask::weight_visible(s.type, s.groups, s.kh, s.kw, ky, kx, c, s.C, k, s.K))
                  continue;
                acc += x[((n * s.C + c) * s.H + iy) * s.W + ix] *
                       w[((k * s.C + c) * s.kh + ky) * s.kw + kx];
              }
          y[((n * s.K + k) * oh + oy) * ow + ox] = acc;
        }
  return y;
}

// Float32 tolerance for sums of L products of values in [-1, 1]: the classic bound
// |error| <= L u sum|terms| <= L^2 u (u = 2^-24 for float32, 2^-53 for float64), times 2.
double sum_bound(int64_t terms, double unit_roundoff) {
  return 2.0 * static_cast<double>(terms * terms) * unit_roundoff;
}
void set_sum_tolerances(OpCase& c, int64_t terms) {
  c.f32_atol = sum_bound(terms, std::ldexp(1.0, -24));
  c.f32_rtol = 0.0;
  c.f64_atol = sum_bound(terms, std::ldexp(1.0, -53));
  c.f64_rtol = 0.0;
}

const char* mask_name(MaskType t) {
  return t == MaskType::A ? "A" : t == MaskType::B ? "B" : "none";
}

OpCase conv_case(ConvSpec s) {
  const bool masked = s.type != MaskType::none;
  if (masked) {
    s.stride = 1;
    s.pad = s.kh / 2;
  }
  OpCase c;
  c.name = masked ? fmt::format("masked_conv2d {} G{} N{} C{} {}x{} K{} k{}{}", mask_name(s.type),
                                s.groups, s.N, s.C, s.H, s.W, s.K, s.kh, s.bias ? "" : " no-bias")
                  : fmt::format("conv2d N{} C{} {}x{} K{} k{}x{} s{} p{}{}", s.N, s.C, s.H, s.W,
                                s.K, s.kh, s.kw, s.stride, s.pad, s.bias ? "" : " no-bias");
  c.shapes = {{s.N, s.C, s.H, s.W}, {s.K, s.C, s.kh, s.kw}};
  if (s.bias) c.shapes.push_back({s.K});
  c.op = [s, masked](const std::vector<Tensor>& in) {
    const Tensor bias = s.bias ? in[2] : Tensor();
    return masked ? masked_conv2d(in[0], in[1], bias, s.type, s.groups)
                  : conv2d(in[0], in[1], bias, s.stride, s.pad);
  };
  c.reference = [s](const std::vector<HostValues>& in) {
    return conv_oracle(s, in[0], in[1], s.bias ? &in[2] : nullptr);
  };
  set_sum_tolerances(c, s.C * s.kh * s.kw + 1);
  return c;
}

struct TransposeSpec {
  int64_t N = 2, C = 3, H = 5, W = 4, K = 5, k = 3, stride = 1, pad = 0, out_pad = 0;
  bool bias = true;
  int64_t out_h() const { return (H - 1) * stride - 2 * pad + k + out_pad; }
  int64_t out_w() const { return (W - 1) * stride - 2 * pad + k + out_pad; }
};

// The transposed convolution's oracle, written as its definition: every input pixel scatters
// its channels, weighted by w[c, k], onto a k x k window of the (stride-spaced) output.
HostValues transpose_oracle(const TransposeSpec& s, const HostValues& x, const HostValues& w,
                            const HostValues* b) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  HostValues y(static_cast<size_t>(s.N * s.K * oh * ow), 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t iy = 0; iy < s.H; ++iy)
        for (int64_t ix = 0; ix < s.W; ++ix)
          for (int64_t k = 0; k < s.K; ++k)
            for (int64_t ky = 0; ky < s.k; ++ky)
              for (int64_t kx = 0; kx < s.k; ++kx) {
                const int64_t oy = iy * s.stride - s.pad + ky, ox = ix * s.stride - s.pad + kx;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                y[((n * s.K + k) * oh + oy) * ow + ox] += x[((n * s.C + c) * s.H + iy) * s.W + ix] *
                                                          w[((c * s.K + k) * s.k + ky) * s.k + kx];
              }
  if (b)
    for (size_t i = 0; i < y.size(); ++i)
      y[i] += (*b)[(i / static_cast<size_t>(oh * ow)) % static_cast<size_t>(s.K)];
  return y;
}

OpCase transpose_case(TransposeSpec s) {
  OpCase c;
  c.name = fmt::format("conv_transpose2d N{} C{} {}x{} K{} k{} s{} p{} op{}{}", s.N, s.C, s.H, s.W,
                       s.K, s.k, s.stride, s.pad, s.out_pad, s.bias ? "" : " no-bias");
  c.shapes = {{s.N, s.C, s.H, s.W}, {s.C, s.K, s.k, s.k}};
  if (s.bias) c.shapes.push_back({s.K});
  c.op = [s](const std::vector<Tensor>& in) {
    return conv_transpose2d(in[0], in[1], s.bias ? in[2] : Tensor(), s.stride, s.pad, s.out_pad);
  };
  c.reference = [s](const std::vector<HostValues>& in) {
    return transpose_oracle(s, in[0], in[1], s.bias ? &in[2] : nullptr);
  };
  // An output pixel gathers at most C * ceil(k / stride)^2 products, bounded by C k^2.
  set_sum_tolerances(c, s.C * s.k * s.k + 1);
  return c;
}

ConvSpec plain(int64_t k, int64_t stride, int64_t pad) {
  ConvSpec s;
  s.kh = s.kw = k;
  s.stride = stride;
  s.pad = pad;
  return s;
}

ConvSpec masked(MaskType type, int64_t k, int groups, int64_t C, int64_t K) {
  ConvSpec s;
  s.type = type;
  s.kh = s.kw = k;
  s.groups = groups;
  s.C = C;
  s.K = K;
  return s;
}

// The three convolution kernels, plus the bias gradient's sum per channel (whose default sums
// one dimension at a time with sum_axis).
const std::vector<std::string> kConvEntries = {"conv2d_forward", "conv2d_backward_data",
                                               "conv2d_backward_weight", "sum_per_channel",
                                               "sum_axis"};

// A biased conv2d or masked_conv2d runs the optional conv2d_forward_bias entry forward and
// conv2d_backward_weight_bias backward.
std::vector<std::string> conv_entries(const ConvSpec& s) {
  std::vector<std::string> entries = kConvEntries;
  if (s.bias)
    for (const char* e : {"conv2d_forward_bias", "conv2d_backward_weight_bias"})
      entries.push_back(e);
  return entries;
}

// relu_masked_conv2d: masked_conv2d of relu(x), plus bias and residual. A finite difference
// across the ReLU's kink at 0 is meaningless, so the op adds a constant +-0.6 (alternating along
// the positions) to x drawn from [-0.25, 0.25]: every input lies 0.35 or more from 0, on both
// sides, and half the inputs are cut by the ReLU.
OpCase relu_conv_case(ConvSpec s, bool residual) {
  s.stride = 1;
  s.pad = s.kh / 2;
  const Shape x_shape{s.N, s.C, s.H, s.W};
  HostValues offsets(static_cast<size_t>(shape_numel(x_shape)));
  for (size_t i = 0; i < offsets.size(); ++i)
    offsets[i] = i % 2 == 0 ? 0.6 : -0.6;
  OpCase c;
  c.name = fmt::format("relu_masked_conv2d {} G{} N{} C{} {}x{} K{} k{}{}", mask_name(s.type),
                       s.groups, s.N, s.C, s.H, s.W, s.K, s.kh, residual ? " residual" : "");
  c.shapes = {x_shape, {s.K, s.C, s.kh, s.kw}, {s.K}};
  if (residual) c.shapes.push_back({s.N, s.K, s.out_h(), s.out_w()});
  c.ranges = {{-0.25, 0.25}};
  c.op = [s, offsets, x_shape, residual](const std::vector<Tensor>& in) {
    const Tensor x = in[0] + Tensor::from_vector(offsets, x_shape, in[0].dtype(), in[0].device());
    return relu_masked_conv2d(x, in[1], in[2], s.type, s.groups, residual ? in[3] : Tensor());
  };
  c.reference = [s, offsets, residual](const std::vector<HostValues>& in) {
    HostValues x(in[0].size());
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = std::max(in[0][i] + offsets[i], 0.0);
    HostValues y = conv_oracle(s, x, in[1], &in[2]);
    if (residual)
      for (size_t i = 0; i < y.size(); ++i)
        y[i] += in[3][i];
    return y;
  };
  // The convolution's sum plus the offset's rounding and the residual: two more terms.
  set_sum_tolerances(c, s.C * s.kh * s.kw + 3);
  return c;
}

}  // namespace

void add_conv_cases(std::vector<OpCase>& to) {
  {
    std::vector<ConvSpec> specs = {plain(1, 1, 0), plain(3, 1, 1), plain(5, 1, 2), plain(3, 2, 1),
                                   plain(5, 2, 0), plain(3, 2, 2), plain(1, 2, 1)};
    ConvSpec rect = plain(3, 1, 1);  // a non-square kernel
    rect.kw = 5;
    specs.push_back(rect);
    ConvSpec no_bias = plain(3, 1, 0);
    no_bias.bias = false;
    specs.push_back(no_bias);
    for (const ConvSpec& s : specs)
      add_cases(to, "conv2d", conv_entries(s), {conv_case(s)});
  }
  {
    const std::vector<ConvSpec> specs = {
        masked(MaskType::A, 3, 1, 3, 5), masked(MaskType::B, 3, 1, 3, 5),
        masked(MaskType::A, 5, 1, 3, 5), masked(MaskType::B, 5, 1, 3, 5),
        masked(MaskType::A, 7, 1, 1, 4),  // pixelcnn-ref's first layer, miniature
        masked(MaskType::A, 3, 3, 3, 3), masked(MaskType::B, 3, 3, 3, 6),
        masked(MaskType::A, 5, 3, 6, 6), masked(MaskType::B, 5, 3, 6, 3),
        masked(MaskType::B, 1, 3, 6, 6),  // a 1x1 type B layer: only the centre, by group
        masked(MaskType::A, 1, 3, 3, 6),
    };
    for (const ConvSpec& s : specs)
      add_cases(to, "masked_conv2d", conv_entries(s), {conv_case(s)});
  }
  {
    // The default backend entries build relu_masked_conv2d from these plain entries.
    std::vector<std::string> entries = kConvEntries;
    for (const char* e :
         {"unary", "unary_backward", "binary", "relu_conv2d_forward", "relu_conv2d_backward_data",
          "relu_conv2d_backward_weight", "conv2d_backward_weight_bias"})
      entries.push_back(e);
    const std::vector<ConvSpec> specs = {
        masked(MaskType::B, 1, 1, 6, 5),  // a 1x1 layer: the columns are the image itself
        masked(MaskType::B, 3, 1, 4, 5),  // pixelcnn-ref's block layer, miniature
        masked(MaskType::B, 3, 3, 3, 6),  // colour groups: the restricted centre tap
        masked(MaskType::A, 5, 1, 3, 4)};
    for (const ConvSpec& s : specs)
      for (bool residual : {false, true})
        add_cases(to, "relu_masked_conv2d", entries, {relu_conv_case(s, residual)});
  }
  {
    auto spec = [](int64_t k, int64_t stride, int64_t pad, int64_t out_pad) {
      TransposeSpec s;
      s.k = k;
      s.stride = stride;
      s.pad = pad;
      s.out_pad = out_pad;
      return s;
    };
    std::vector<TransposeSpec> specs = {spec(3, 1, 0, 0), spec(3, 2, 1, 1), spec(5, 2, 2, 1),
                                        spec(4, 2, 1, 0), spec(1, 1, 0, 0), spec(3, 3, 0, 2)};
    TransposeSpec no_bias = spec(3, 2, 0, 0);
    no_bias.bias = false;
    specs.push_back(no_bias);
    for (const TransposeSpec& s : specs)
      add_cases(to, "conv_transpose2d", kConvEntries, {transpose_case(s)});
  }
}

}  // namespace gm::catalogue

// Convolution on the CPU: im2col + GEMM (kernels/cpu/blas.h: genmodel's own sgemm in single
// precision, OpenBLAS in double), for plain and masked kernels.
//
// A convolution of x [N, C, H, W] with w [K, C, kh, kw] is, per image, the GEMM
//   y_n [K, P] = W [K, C*T] x col_n [C*T, P]          (P = OH*OW output pixels)
// where row (c, t) of col_n holds input channel c shifted by tap t (im2col). For a plain
// convolution T = kh*kw and W is w itself. A masked convolution builds col_n only over the
// taps the mask leaves visible (kernels/common/mask.h) and gathers the matching weight columns,
// so the GEMM's inner dimension, and with it the FLOP count, is about halved (24 of 49 taps for
// a 7x7 type A mask): the masked taps are skipped, never multiplied by zero.
//
// The one exception is the centre tap under colour groups, where some (ci, co) pairs are
// visible and others not: it is kept as one tap and the gathered weights of the forbidden
// pairs are set to zero. That is the only place a zero is multiplied; it costs 1 tap out of
// ~kh*kw/2, and splitting the centre into per-group GEMMs would cost more than it saves.
//
// The fused entries (relu_conv2d_*) convolve relu(x): the ReLU is applied while an image's
// columns are built (for a 1x1 layer, while copying the image into the column buffer), so
// relu(x) exists one image at a time in cache, never as a tensor; the data gradient is masked
// by x > 0 per image right after its GEMM, and a residual is added in the GEMM's epilogue.
//
// Images are split across OpenMP threads, each with its own column buffer and a single-threaded
// GEMM (sgemm never threads itself; OpenBLAS's OpenMP build (the one we link) runs a GEMM called
// inside a parallel region on the calling thread). (The pthreads build serialised concurrent
// callers, so there one image at a time with a threaded GEMM was faster.) On pixelcnn-ref's
// training step, 2 threads: 156 -> 129 ms (docs/benchmarks.md, "What made it faster").
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/common/mask.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {

struct Tap {
  int64_t ky, kx;
};

// Everything the three directions share about one convolution.
struct ConvPlan {
  Conv2dGeometry g;
  ConvMask mask;
  std::vector<Tap> taps;  // the computed taps, in raster order
  int64_t pixels = 0;     // OH * OW
  int64_t rows = 0;       // C * taps: the GEMM inner dimension of the forward
  // Unmasked: the gathered weight matrix [K, C*T] is w itself.
  bool weights_as_is = false;
  // 1x1, stride 1, no padding, unmasked: the column matrix of an image is the image itself.
  bool columns_as_is = false;
  // The centre tap is computed but some (ci, co) pairs must not see it (colour groups).
  bool centre_restricted = false;
  // No multiply-add at all: GEMMs with a zero dimension are not valid BLAS calls.
  bool empty() const { return rows == 0 || pixels == 0 || g.batch == 0 || g.out_channels == 0; }
};

ConvPlan make_plan(const Conv2dGeometry& g, const ConvMask& mask) {
  ConvPlan p;
  p.g = g;
  p.mask = mask;
  for (int64_t ky = 0; ky < g.kernel_h; ++ky)
    for (int64_t kx = 0; kx < g.kernel_w; ++kx)
      if (mask::tap_used(mask.type, mask.colour_groups, g.kernel_h, g.kernel_w, ky, kx))
        p.taps.push_back({ky, kx});
  p.pixels = g.out_height() * g.out_width();
  p.rows = g.in_channels * static_cast<int64_t>(p.taps.size());
  p.centre_restricted = mask.type != MaskType::none && mask.colour_groups > 1;
  p.weights_as_is =
      static_cast<int64_t>(p.taps.size()) == g.kernel_h * g.kernel_w && !p.centre_restricted;
  p.columns_as_is = p.weights_as_is && g.kernel_h == 1 && g.kernel_w == 1 && g.stride == 1 &&
                    g.pad_h == 0 && g.pad_w == 0;
  return p;
}

using cpu::gemm;  // kernels/cpu/blas.h: the same result for any thread count

// Output positions o in [lo, hi) whose input position o*stride + offset lies in [0, in).
struct Range {
  int64_t lo, hi;
};
Range valid_outputs(int64_t offset, int64_t in, int64_t out, int64_t stride) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t hi = std::min(out, in - 1 - offset >= 0 ? (in - 1 - offset) / stride + 1 : 0);
  return {std::min(lo, hi), hi};
}

// The values a convolution reads from its input: x itself, or relu(x) when the ReLU before the
// convolution is fused into it (the ReLU tensor is then never written, only its columns).
// `x > 0 ? x : 0` is the unary relu's formula (kernels/common/unary_math.h), bit for bit.
template <bool Relu, typename T>
inline T input_value(T v) {
  if constexpr (Relu)
    return v > T(0) ? v : T(0);
  else
    return v;
}

// Rows (c, t) for all taps t of one input plane x [H, W] -> col [T, P]; zeros where a tap
// falls into the padding.
template <bool Relu, typename T>
void im2col_plane(const ConvPlan& p, const T* x, T* col) {
  const Conv2dGeometry& g = p.g;
  const int64_t oh = g.out_height(), ow = g.out_width(), s = g.stride;
  for (const Tap& tap : p.taps) {
    const int64_t dy = tap.ky - g.pad_h, dx = tap.kx - g.pad_w;
    const Range ry = valid_outputs(dy, g.height, oh, s), rx = valid_outputs(dx, g.width, ow, s);
    for (int64_t oy = 0; oy < oh; ++oy) {
      T* out = col + oy * ow;
      if (oy < ry.lo || oy >= ry.hi) {
        std::fill(out, out + ow, T(0));
        continue;
      }
      const T* in = x + (oy * s + dy) * g.width + dx;
      std::fill(out, out + rx.lo, T(0));
      if (s == 1) {
        for (int64_t ox = rx.lo; ox < rx.hi; ++ox)
          out[ox] = input_value<Relu>(in[ox]);
      } else {
        for (int64_t ox = rx.lo; ox < rx.hi; ++ox)
          out[ox] = input_value<Relu>(in[ox * s]);
      }
      std::fill(out + rx.hi, out + ow, T(0));
    }
    col += p.pixels;
  }
}

// The adjoint of im2col_plane: dx [H, W] = sum over taps of the shifted rows of dcol [T, P].
template <typename T>
void col2im_plane(const ConvPlan& p, const T* dcol, T* dx) {
  const Conv2dGeometry& g = p.g;
  const int64_t oh = g.out_height(), ow = g.out_width(), s = g.stride;
  std::fill(dx, dx + g.height * g.width, T(0));
  for (const Tap& tap : p.taps) {
    const int64_t dy = tap.ky - g.pad_h, dxo = tap.kx - g.pad_w;
    const Range ry = valid_outputs(dy, g.height, oh, s), rx = valid_outputs(dxo, g.width, ow, s);
    for (int64_t oy = ry.lo; oy < ry.hi; ++oy) {
      const T* in = dcol + oy * ow;
      T* out = dx + (oy * s + dy) * g.width + dxo;
      for (int64_t ox = rx.lo; ox < rx.hi; ++ox)
        out[ox * s] += in[ox];
    }
    dcol += p.pixels;
  }
}

// The weight matrix [K, C*T] over the computed taps, forbidden centre pairs set to zero.
template <typename T>
std::vector<T> gather_weights(const ConvPlan& p, const T* w) {
  const Conv2dGeometry& g = p.g;
  const int64_t taps = static_cast<int64_t>(p.taps.size()), khw = g.kernel_h * g.kernel_w;
  std::vector<T> wg(static_cast<size_t>(g.out_channels * p.rows));
  for (int64_t co = 0; co < g.out_channels; ++co)
    for (int64_t ci = 0; ci < g.in_channels; ++ci)
      for (int64_t t = 0; t < taps; ++t) {
        const Tap& tap = p.taps[t];
        const bool visible =
            mask::weight_visible(p.mask.type, p.mask.colour_groups, g.kernel_h, g.kernel_w, tap.ky,
                                 tap.kx, ci, g.in_channels, co, g.out_channels);
        wg[co * p.rows + ci * taps + t] =
            visible ? w[(co * g.in_channels + ci) * khw + tap.ky * g.kernel_w + tap.kx] : T(0);
      }
  return wg;
}

// The adjoint of gather_weights: dw gets dwg at visible weights and exactly 0 elsewhere.
template <typename T>
void scatter_weight_grad(const ConvPlan& p, const T* dwg, T* dw) {
  const Conv2dGeometry& g = p.g;
  const int64_t taps = static_cast<int64_t>(p.taps.size()), khw = g.kernel_h * g.kernel_w;
  std::fill(dw, dw + g.out_channels * g.in_channels * khw, T(0));
  for (int64_t co = 0; co < g.out_channels; ++co)
    for (int64_t ci = 0; ci < g.in_channels; ++ci)
      for (int64_t t = 0; t < taps; ++t) {
        const Tap& tap = p.taps[t];
        if (mask::weight_visible(p.mask.type, p.mask.colour_groups, g.kernel_h, g.kernel_w, tap.ky,
                                 tap.kx, ci, g.in_channels, co, g.out_channels))
          dw[(co * g.in_channels + ci) * khw + tap.ky * g.kernel_w + tap.kx] =
              dwg[co * p.rows + ci * taps + t];
      }
}

template <typename T>
std::unique_ptr<T[]> uninitialised(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n)]);
}

// The column matrix [C*T, P] of image n, of relu(x) when `relu`: the image itself when the plan
// allows and there is no ReLU, else built in `buffer` (one image's worth, so it stays in cache
// for the GEMM that reads it).
template <typename T>
const T* columns(const ConvPlan& p, const T* x, int64_t n, bool relu, T* buffer) {
  const Conv2dGeometry& g = p.g;
  const int64_t plane = g.height * g.width, taps = static_cast<int64_t>(p.taps.size());
  const T* image = x + n * g.in_channels * plane;
  if (p.columns_as_is) {
    if (!relu) return image;
    for (int64_t i = 0; i < g.in_channels * plane; ++i)
      buffer[i] = input_value<true>(image[i]);
    return buffer;
  }
  for (int64_t c = 0; c < g.in_channels; ++c)
    if (relu)
      im2col_plane<true>(p, image + c * plane, buffer + c * taps * p.pixels);
    else
      im2col_plane<false>(p, image + c * plane, buffer + c * taps * p.pixels);
  return buffer;
}

// Scratch elements per image for the column matrix: none when the image is read in place.
int64_t column_elems(const ConvPlan& p, bool relu) {
  return p.columns_as_is && !relu ? 0 : p.rows * p.pixels;
}

// Runs body(n, buffer) for every item n < count: across OpenMP threads, each with its own scratch
// buffer of `buffer_elems`, when there are several items; for a single item directly on this
// thread, outside any parallel construct, so the GEMM inside can split itself into tiles
// (kernels/cpu/blas.h). (Inside even an
// inactive `omp parallel if (false)`, OpenBLAS starts a nested team whose workers spin against
// the idle outer pool's: a batch-1 sampling pass ran 30 x slower that way.)
template <typename T, typename Body>
void for_each_item(int64_t count, int64_t buffer_elems, Body&& body) {
  if (count == 1) {
    auto buffer = uninitialised<T>(buffer_elems);
    body(int64_t{0}, buffer.get());
    return;
  }
#pragma omp parallel
  {
    auto buffer = uninitialised<T>(buffer_elems);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < count; ++n)
      body(n, buffer.get());
  }
}

// y = conv(relu ? relu(x) : x) + bias + residual (bias, residual may be null). Single precision
// adds bias and residual in the GEMM's epilogue while the tile is in registers
// (kernels/cpu/sgemm.h); double precision (OpenBLAS) starts each image's output as the bias
// broadcast over its pixels, accumulates onto it (beta = 1) and adds the residual after.
template <typename T>
void forward(const ConvPlan& p, const T* x, const T* w, const T* bias, const T* residual, bool relu,
             T* y) {
  const Conv2dGeometry& g = p.g;
  const int64_t K = g.out_channels, P = p.pixels;
  auto start_from_bias = [&](T* y_n) {
    for (int64_t k = 0; k < K; ++k)
      std::fill(y_n + k * P, y_n + (k + 1) * P, bias[k]);
  };
  // y_n += residual_n, in the order the unfused `y + residual` would add (exact either way).
  auto add_residual = [&](int64_t n) {
    if (!residual) return;
    T* y_n = y + n * K * P;
    const T* r_n = residual + n * K * P;
    for (int64_t i = 0; i < K * P; ++i)
      y_n[i] = y_n[i] + r_n[i];
  };
  if (p.empty()) {  // nothing visible (1x1 type A) or nothing to compute: y is the bias or 0
    for (int64_t n = 0; n < g.batch; ++n) {
      if (bias)
        start_from_bias(y + n * K * P);
      else
        std::fill(y + n * K * P, y + (n + 1) * K * P, T(0));
      add_residual(n);
    }
    return;
  }
  std::vector<T> gathered;
  if (!p.weights_as_is) gathered = gather_weights(p, w);
  const T* wg = p.weights_as_is ? w : gathered.data();
  for_each_item<T>(g.batch, column_elems(p, relu), [&](int64_t n, T* buffer) {
    const T* col = columns(p, x, n, relu, buffer);
    if constexpr (std::is_same_v<T, float>) {
      cpu::GemmEpilogue epilogue;
      epilogue.row_bias = bias;
      epilogue.residual = residual ? residual + n * K * P : nullptr;
      epilogue.ldr = P;
      gemm(false, false, K, P, p.rows, 1.0f, wg, p.rows, col, P, 0.0f, y + n * K * P, P, epilogue);
    } else {
      if (bias) start_from_bias(y + n * K * P);
      gemm(false, false, K, P, p.rows, T(1), wg, p.rows, col, P, bias ? T(1) : T(0), y + n * K * P,
           P);
      add_residual(n);
    }
  });
}

// dx = conv's data gradient, times relu'(x) when `relu_of` (the input x of a convolution of
// relu(x)) is given: the ReLU's backward applied to each image while it is still in cache, with
// the unary relu's formula (x > 0 ? dx : 0).
template <typename T>
void backward_data(const ConvPlan& p, const T* dy, const T* w, const T* relu_of, T* dx) {
  const Conv2dGeometry& g = p.g;
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const int64_t taps = static_cast<int64_t>(p.taps.size());
  if (p.empty()) {
    std::fill(dx, dx + g.batch * g.in_channels * plane, T(0));
    return;
  }
  std::vector<T> gathered;
  if (!p.weights_as_is) gathered = gather_weights(p, w);
  const T* wg = p.weights_as_is ? w : gathered.data();
  // dcol_n [C*T, P] = W^T dy_n, written straight into dx_n when the columns are the image.
  for_each_item<T>(g.batch, p.columns_as_is ? 0 : p.rows * P, [&](int64_t n, T* dcol) {
    T* dx_n = dx + n * g.in_channels * plane;
    gemm(true, false, p.rows, P, K, T(1), wg, p.rows, dy + n * K * P, P, T(0),
         p.columns_as_is ? dx_n : dcol, P);
    if (!p.columns_as_is)
      for (int64_t c = 0; c < g.in_channels; ++c)
        col2im_plane(p, dcol + c * taps * P, dx_n + c * plane);
    if (!relu_of) return;
    const T* x_n = relu_of + n * g.in_channels * plane;
    for (int64_t i = 0; i < g.in_channels * plane; ++i)
      dx_n[i] = x_n[i] > T(0) ? dx_n[i] : T(0);
  });
}

// The sum of row[0, len) in double, in a fixed order: 16 interleaved partial sums (so the loop
// vectorises without reassociating anything, as four independent chains of vector adds rather
// than two, whose latency bounded it: perf) folded in halves at the end, then the tail.
template <typename T>
double row_sum(const T* row, int64_t len) {
  constexpr int64_t kLanes = 16;
  double lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes)
#pragma omp simd
    for (int64_t j = 0; j < kLanes; ++j)
      lanes[j] += static_cast<double>(row[i + j]);
  for (int64_t half = kLanes / 2; half > 0; half /= 2)
    for (int64_t j = 0; j < half; ++j)
      lanes[j] += lanes[j + half];
  double total = lanes[0];
  for (; i < len; ++i)
    total += static_cast<double>(row[i]);
  return total;
}

// dW = sum_n dy_n [K, P] col_n^T [P, C*T], and when `db` is given the bias gradient
// db[k] = sum_n sum_p dy_n[k, p], each image's rows summed right after its GEMM has read them
// (so dy is read from memory once, not a second time by a separate reduction). The batch is
// cut into a fixed number of groups (not one per thread), each summed into its own partial dW
// (and partial db, in double), and the partials are added in group order: the result does not
// depend on how many threads ran.
template <typename T>
void backward_weight(const ConvPlan& p, const T* x, bool relu, const T* dy, T* dw, T* db) {
  const Conv2dGeometry& g = p.g;
  const int64_t K = g.out_channels, P = p.pixels;
  if (p.empty()) {
    std::fill(dw, dw + K * g.in_channels * g.kernel_h * g.kernel_w, T(0));
    if (!db) return;
    for (int64_t k = 0; k < K; ++k) {  // the bias still sees every position
      double sum = 0.0;
      for (int64_t n = 0; n < g.batch; ++n)
        sum += row_sum(dy + (n * K + k) * P, P);
      db[k] = static_cast<T>(sum);
    }
    return;
  }
  constexpr int64_t kGroups = 8;
  const int64_t groups = std::min(kGroups, g.batch), per_group = (g.batch + groups - 1) / groups;
  const int64_t size = K * p.rows;
  auto partial = uninitialised<T>(groups * size);
  std::vector<double> partial_db(db ? static_cast<size_t>(groups * K) : 0, 0.0);
  for_each_item<T>(groups, column_elems(p, relu), [&](int64_t grp, T* buffer) {
    T* dwg = partial.get() + grp * size;
    const int64_t first = grp * per_group, last = std::min(g.batch, first + per_group);
    if (first >= last) std::fill(dwg, dwg + size, T(0));
    for (int64_t n = first; n < last; ++n) {
      const T* dy_n = dy + n * K * P;
      gemm(false, true, K, p.rows, P, T(1), dy_n, P, columns(p, x, n, relu, buffer), P,
           n == first ? T(0) : T(1), dwg, p.rows);
      if (db)
        for (int64_t k = 0; k < K; ++k)
          partial_db[static_cast<size_t>(grp * K + k)] += row_sum(dy_n + k * P, P);
    }
  });
  T* total = partial.get();  // group 0 collects the others
  for (int64_t grp = 1; grp < groups; ++grp) {
    const T* other = partial.get() + grp * size;
    for (int64_t i = 0; i < size; ++i)
      total[i] += other[i];
  }
  if (p.weights_as_is)
    std::copy(total, total + size, dw);
  else
    scatter_weight_grad(p, total, dw);
  if (!db) return;
  for (int64_t k = 0; k < K; ++k) {
    double sum = 0.0;
    for (int64_t grp = 0; grp < groups; ++grp)
      sum += partial_db[static_cast<size_t>(grp * K + k)];
    db[k] = static_cast<T>(sum);
  }
}

void check_float(const char* kernel, const Tensor& t) {
  GM_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64,
           "cpu {}: expected float32 or float64 tensors, got {}", kernel, t.describe());
}

// Runs f with the tensors' element type (float or double), checked on `dtype_of`.
template <typename F>
void with_float(const char* kernel, const Tensor& dtype_of, F&& f) {
  check_float(kernel, dtype_of);
  if (dtype_of.dtype() == DType::f32)
    f(float{});
  else
    f(double{});
}

// An optional tensor's data, null when undefined.
template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void CpuBackend::conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                const Tensor& w, Tensor& y) {
  with_float("conv2d_forward", y, [&](auto zero) {
    using T = decltype(zero);
    forward<T>(make_plan(g, mask), x.data<T>(), w.data<T>(), nullptr, nullptr, false, y.data<T>());
  });
}

void CpuBackend::conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                     const Tensor& w, const Tensor& bias, Tensor& y) {
  with_float("conv2d_forward_bias", y, [&](auto zero) {
    using T = decltype(zero);
    forward<T>(make_plan(g, mask), x.data<T>(), w.data<T>(), bias.data<T>(), nullptr, false,
               y.data<T>());
  });
}

void CpuBackend::relu_conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                     const Tensor& w, const Tensor& bias, const Tensor& residual,
                                     Tensor& y) {
  with_float("relu_conv2d_forward", y, [&](auto zero) {
    using T = decltype(zero);
    forward<T>(make_plan(g, mask), x.data<T>(), w.data<T>(), data_or_null<T>(bias),
               data_or_null<T>(residual), true, y.data<T>());
  });
}

void CpuBackend::conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                      const Tensor& dy, const Tensor& w, Tensor& dx) {
  with_float("conv2d_backward_data", dx, [&](auto zero) {
    using T = decltype(zero);
    backward_data<T>(make_plan(g, mask), dy.data<T>(), w.data<T>(), nullptr, dx.data<T>());
  });
}

void CpuBackend::relu_conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                           const Tensor& x, const Tensor& dy, const Tensor& w,
                                           Tensor& dx) {
  with_float("relu_conv2d_backward_data", dx, [&](auto zero) {
    using T = decltype(zero);
    backward_data<T>(make_plan(g, mask), dy.data<T>(), w.data<T>(), x.data<T>(), dx.data<T>());
  });
}

void CpuBackend::conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                        const Tensor& x, const Tensor& dy, Tensor& dw) {
  with_float("conv2d_backward_weight", dw, [&](auto zero) {
    using T = decltype(zero);
    backward_weight<T>(make_plan(g, mask), x.data<T>(), false, dy.data<T>(), dw.data<T>(), nullptr);
  });
}

void CpuBackend::relu_conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                             const Tensor& x, const Tensor& dy, Tensor& dw) {
  with_float("relu_conv2d_backward_weight", dw, [&](auto zero) {
    using T = decltype(zero);
    backward_weight<T>(make_plan(g, mask), x.data<T>(), true, dy.data<T>(), dw.data<T>(), nullptr);
  });
}

void CpuBackend::conv2d_backward_weight_bias(const Conv2dGeometry& g, const ConvMask& mask,
                                             const Tensor& x, bool relu, const Tensor& dy,
                                             Tensor& dw, Tensor& db) {
  with_float("conv2d_backward_weight_bias", dw, [&](auto zero) {
    using T = decltype(zero);
    backward_weight<T>(make_plan(g, mask), x.data<T>(), relu, dy.data<T>(), dw.data<T>(),
                       db.data<T>());
  });
}

}  // namespace gm

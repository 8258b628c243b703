#pragma once
// The building blocks of incremental (one position at a time) network evaluation that every
// model's IncrementalEvaluator (models/autoregressive_model.h) is made of.
//
// Exactness: each position's outputs are computed with the same backend GEMM as the naive
// convolution (im2col + GEMM, the same gathered weights and the same tap order), so each value
// is the dot product the naive pass computes, in the same order. Logits can still differ in
// the last bit where the BLAS library picks a different micro-kernel for the narrow matrices
// of one position (OpenBLAS does for float32 on AVX-512); a last-bit change moves a sampled
// pixel only if the uniform lands within ~1e-7 of a CDF step. tests/test_fast_sampling.cpp
// checks equal images for every model.
#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "kernels/common/mask.h"
#include "kernels/common/unary_math.h"
#include "models/autoregressive_model.h"
#include "models/images.h"
#include "models/nn.h"
#include "models/sampling_checks.h"

namespace gm::models::incremental {

template <typename T>
T relu(T x) {
  return math::unary_forward(UnaryOp::relu, x, T(0), T(1), T(0));
}

// The 256 values scale_images gives the pixel levels, so cached inputs are bit-identical to
// the naive samplers' input tensors.
template <typename T>
std::vector<T> level_table() {
  std::vector<uint8_t> levels(256);
  for (int i = 0; i < 256; ++i)
    levels[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  return scale_images(Tensor::from_vector(levels, {256}), dtype_of<T>(), Device::cpu())
      .template to_vector<T>();
}

// The last `rows` image rows of an activation map laid out [row, col, channel, batch] (the
// batch innermost, so one channel of one position is a contiguous GEMM row); image row r
// lives in slot r % rows.
template <typename T>
class RowRing {
 public:
  RowRing(int64_t rows, int64_t width, int64_t channels, int64_t batch)
      : rows_(rows),
        width_(width),
        stride_(channels * batch),
        data_(static_cast<size_t>(rows * width * channels * batch), T(0)) {}
  T* at(int64_t row, int64_t col) {
    return data_.data() + ((row % rows_) * width_ + col) * stride_;
  }
  void fill_row(int64_t row, T value) { std::fill_n(at(row, 0), width_ * stride_, value); }

 private:
  int64_t rows_, width_, stride_;
  std::vector<T> data_;
};

// The network input (scaled pixels) of the last `rows` rows. Undrawn pixels are 0, as in the
// naive samplers' input; masked taps never read them anyway.
template <typename T>
class ImageRows {
 public:
  ImageRows(int64_t rows, const ImageShape& shape, int64_t batch)
      : ring_(rows, shape.width, shape.channels, batch), batch_(batch), level_(level_table<T>()) {}
  RowRing<T>& ring() { return ring_; }
  void begin_row(int64_t row) { ring_.fill_row(row, level_[0]); }
  void set(int64_t row, int64_t col, int64_t channel, const std::vector<uint8_t>& values) {
    T* dst = ring_.at(row, col) + channel * batch_;
    for (int64_t n = 0; n < batch_; ++n)
      dst[n] = level_[values[static_cast<size_t>(n)]];
  }

 private:
  RowRing<T> ring_;
  int64_t batch_;
  std::vector<T> level_;
};

// Where a convolution's kernel sits relative to the output position: tap (ky, kx) reads input
// (r + ky - top, c + kx - left). "Same" padding (masked_conv2d, odd 1x1 / k x k convolutions)
// is top = kh/2, left = kw/2.
struct KernelOrigin {
  int64_t top = -1, left = -1;  // -1: centred
};

// One (masked) convolution evaluated at a single position for the whole batch:
//   y [out, B] = W_g [out, in * taps] col [in * taps, B] (+ bias),
// with W_g the weights of the computed taps gathered exactly as the CPU convolution
// (kernels/cpu/conv.cpp) gathers them (row ci * taps + t, taps in raster order, forbidden
// centre pairs zero), so each output is the dot product the naive pass computes, in the same
// order.
template <typename T>
struct PositionConv {
  int64_t in = 0, out = 0, batch = 0;
  std::vector<std::pair<int64_t, int64_t>> taps;  // (dy, dx) of the computed taps
  Tensor weight, col, y;
  T* col_data = nullptr;  // col's and y's storage, looked up once (the steps are tiny)
  T* y_data = nullptr;
  std::vector<T> bias;  // empty: no bias
  // A conditional layer's per-class bias for each image's label [out, B] (see class_bias());
  // empty: unconditional.
  std::vector<T> class_bias;

  // w [out, in, kh, kw]; b [out] or undefined. Parameters may live on any device (copied).
  PositionConv(const Tensor& w_any, const Tensor& b_any, MaskType type, int groups,
               int64_t batch_size, KernelOrigin origin = {}) {
    const Tensor w = w_any.detach().to(Device::cpu());
    out = w.size(0), in = w.size(1), batch = batch_size;
    const int64_t kh = w.size(2), kw = w.size(3);
    const int64_t top = origin.top < 0 ? kh / 2 : origin.top;
    const int64_t left = origin.left < 0 ? kw / 2 : origin.left;
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        if (mask::tap_used(type, groups, kh, kw, ky, kx)) taps.emplace_back(ky - top, kx - left);
    const int64_t n_taps = static_cast<int64_t>(taps.size()), rows = in * n_taps;
    const std::vector<T> wv = w.to_vector<T>();
    std::vector<T> gathered(static_cast<size_t>(out * rows), T(0));
    for (int64_t co = 0; co < out; ++co)
      for (int64_t ci = 0; ci < in; ++ci)
        for (int64_t t = 0; t < n_taps; ++t) {
          const int64_t ky = taps[t].first + top, kx = taps[t].second + left;
          if (mask::weight_visible(type, groups, kh, kw, ky, kx, ci, in, co, out))
            gathered[static_cast<size_t>(co * rows + ci * n_taps + t)] =
                wv[static_cast<size_t>(((co * in + ci) * kh + ky) * kw + kx)];
        }
    weight = Tensor::from_vector(gathered, {out, rows});
    if (b_any.defined()) bias = b_any.detach().to(Device::cpu()).to_vector<T>();
    col = Tensor::zeros({rows, batch}, dtype_of<T>());
    y = Tensor::empty({out, batch}, dtype_of<T>());
    col_data = col.data<T>();
    y_data = y.data<T>();
  }

  // col <- the window around (r, c) of a cached map (zero where the window leaves the image;
  // rows below the window's source are never read by the causal kernels here).
  void gather(RowRing<T>& src, int64_t r, int64_t c, int64_t width) {
    const int64_t n_taps = static_cast<int64_t>(taps.size());
    T* dst = col_data;
    for (int64_t ci = 0; ci < in; ++ci)
      for (int64_t t = 0; t < n_taps; ++t, dst += batch) {
        const int64_t rr = r + taps[t].first, cc = c + taps[t].second;
        if (rr < 0 || cc < 0 || cc >= width)
          std::fill_n(dst, batch, T(0));
        else
          std::memcpy(dst, src.at(rr, cc) + ci * batch, sizeof(T) * static_cast<size_t>(batch));
      }
  }
  // col <- x (or relu(x)) for a 1x1 layer whose input is the current position's [in, B].
  void input(const T* x, bool apply_relu) {
    const int64_t n = in * batch;
    for (int64_t i = 0; i < n; ++i)
      col_data[i] = apply_relu ? relu(x[i]) : x[i];
  }
  // y <- W_g col, then + bias (added after the GEMM, as the conv ops' broadcasting add does),
  // then + the class bias (the conditional models add it to the layer's output).
  void run() {
    Gemm g;
    g.m = out, g.n = batch, g.k = in * static_cast<int64_t>(taps.size());
    weight.backend().gemm(g, weight, col, y);
    if (!bias.empty())
      for (int64_t k = 0; k < out; ++k) {
        const T bk = bias[static_cast<size_t>(k)];
        T* yk = y_data + k * batch;
        for (int64_t i = 0; i < batch; ++i)
          yk[i] = yk[i] + bk;
      }
    const T* cb = class_bias.data();
    for (size_t i = 0; i < class_bias.size(); ++i)
      y_data[i] = y_data[i] + cb[i];
  }
};

// A masked layer of the model, rebuilt for one position.
template <typename T>
PositionConv<T> position_conv(const nn::MaskedConv2d& layer, int64_t batch) {
  return PositionConv<T>(layer.weight(), layer.bias(), layer.type(), layer.colour_groups(), batch);
}

// A conditional layer's bias for each image: [channels, B] with column b = table[labels[b]].
// The naive pass adds onehot · table, whose entries are exactly the table's (a sum of one
// product by 1 and products by 0), so adding the row itself gives the same bits. Null `bias`
// (an unconditional model): empty.
template <typename T>
std::vector<T> class_bias(const nn::ClassBias* bias, const Tensor& labels) {
  if (bias == nullptr) return {};
  const Tensor table = bias->table().detach().to(Device::cpu());
  const int64_t channels = table.size(1), batch = labels.size(0);
  const std::vector<T> t = table.to_vector<T>();
  const std::vector<int32_t> y = labels.to_vector<int32_t>();
  std::vector<T> rows(static_cast<size_t>(channels * batch));
  for (int64_t k = 0; k < channels; ++k)
    for (int64_t b = 0; b < batch; ++b)
      rows[static_cast<size_t>(k * batch + b)] =
          t[static_cast<size_t>(y[static_cast<size_t>(b)] * channels + k)];
  return rows;
}

// The [B, V] tensor draw() takes, from V values of one channel laid out [V, B] (the layout of
// a PositionConv's output rows).
template <typename T>
Tensor batch_major(const T* values_by_batch, int64_t values, int64_t batch) {
  std::vector<T> rows(static_cast<size_t>(batch * values));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t v = 0; v < values; ++v)
      rows[static_cast<size_t>(b * values + v)] = values_by_batch[v * batch + b];
  return Tensor::from_vector(rows, {batch, values});
}

// Builds Evaluator<float> or Evaluator<double> for the model's dtype (Evaluator(model, batch)),
// after checking that the model lives on the cpu.
// A conditional model's evaluator is built as Evaluator(model, batch, labels).
template <template <typename> class Evaluator, typename M, typename... Labels>
std::unique_ptr<IncrementalEvaluator> make_evaluator(const M& model, int64_t batch,
                                                     const Labels&... labels) {
  GM_CHECK(batch >= 1, "{}: incremental evaluation needs a positive batch, got {}",
           model.config_name(), batch);
  const DType dtype = cpu_model_dtype("fast sampler", model.config_name(), model.parameters());
  if (dtype == DType::f64) return std::make_unique<Evaluator<double>>(model, batch, labels...);
  return std::make_unique<Evaluator<float>>(model, batch, labels...);
}

}  // namespace gm::models::incremental

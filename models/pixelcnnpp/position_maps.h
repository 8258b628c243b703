#pragma once
// PixelCNN++'s feature maps computed one position at a time, on demand: the building blocks of
// its fast sampler (models/pixelcnnpp/fast_sampler.cpp).
//
// Each map (the input image, a convolution's output, a concat_elu, a shift, a gate, a
// transposed convolution) keeps its values at every position it has computed, for the last
// few rows of its own resolution, as [channels, B] per position (the batch innermost, so one
// channel of one position is a GEMM row). `at(i, j)` returns the values at (i, j), computing
// them first if needed, which asks the maps it reads for the positions it reads (so a
// coarse map's position is computed when a finer one first needs it). Every position of every
// map is thus computed at most once per image, and only once the pixels it depends on are
// drawn; a position that would need an undrawn pixel or a row already dropped from a cache
// throws instead of computing something wrong.
//
// Exactness: every value is the naive pass's value bit for bit. Convolutions gather the same
// taps (zeros where the padding is) into the same im2col row order and run the same backend
// GEMM with the same inner dimension, adding the bias exactly as kernels/cpu/conv.cpp does for
// the dtype; a transposed convolution forms the same GEMM columns and adds the taps in the
// order col2im does; elementwise steps apply the kernels' own scalar formulas
// (kernels/common/unary_math.h) one operation at a time, as the ops do. models/incremental.h
// says where a BLAS library could still differ in the last bit.
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "kernels/common/unary_math.h"
#include "models/model.h"

namespace gm::models::pixelcnnpp {

template <typename T>
class Map {
 public:
  // Rows of a map kept at once. The sampler reads at most two rows back at each resolution,
  // plus the rows a coarser position reads when it is first computed; at() throws if a
  // schedule ever needs more.
  static constexpr int64_t kRows = 4;

  Map(int64_t height, int64_t width, int64_t channels, int64_t batch)
      : height_(height),
        width_(width),
        channels_(channels),
        batch_(batch),
        slot_row_(kRows, -1),
        done_(static_cast<size_t>(kRows * width), 0),
        data_(static_cast<size_t>(kRows * width * channels * batch), T(0)) {}
  virtual ~Map() = default;
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  int64_t channels() const { return channels_; }
  int64_t batch() const { return batch_; }

  // [channels, B] at (i, j), 0 <= i < height, 0 <= j < width.
  const T* at(int64_t i, int64_t j) {
    T* values = claim(i, j);
    uint8_t& done = done_[static_cast<size_t>((i % kRows) * width_ + j)];
    if (!done) {
      compute(i, j, values);
      done = 1;
    }
    return values;
  }

 protected:
  virtual void compute(int64_t i, int64_t j, T* out) = 0;
  // Storage of (i, j); a row seen for the first time takes the slot of the row kRows above.
  T* claim(int64_t i, int64_t j) {
    const int64_t slot = i % kRows;
    int64_t& row = slot_row_[static_cast<size_t>(slot)];
    if (row != i) {
      GM_CHECK(row < i,
               "pixelcnnpp fast sampler: row {} of a {}x{} map was dropped from its {}-row cache "
               "while still needed",
               i, height_, width_, kRows);
      row = i;
      std::fill_n(done_.begin() + slot * width_, width_, uint8_t{0});
    }
    return data_.data() + (slot * width_ + j) * channels_ * batch_;
  }
  void mark_done(int64_t i, int64_t j) { done_[static_cast<size_t>((i % kRows) * width_ + j)] = 1; }

 private:
  int64_t height_, width_, channels_, batch_;
  std::vector<int64_t> slot_row_;
  std::vector<uint8_t> done_;
  std::vector<T> data_;
};

// The network's input: the scaled pixels and a channel of ones, filled by the sampler.
template <typename T>
class InputMap : public Map<T> {
 public:
  InputMap(const ImageShape& shape, int64_t batch, std::vector<T> levels)
      : Map<T>(shape.height, shape.width, shape.channels + 1, batch), levels_(std::move(levels)) {}
  void set(int64_t i, int64_t j, int64_t channel, const std::vector<uint8_t>& values) {
    const int64_t B = this->batch(), C = this->channels() - 1;
    T* v = this->claim(i, j);
    if (channel == 0) std::fill_n(v + C * B, B, T(1));
    for (int64_t n = 0; n < B; ++n)
      v[channel * B + n] = levels_[values[static_cast<size_t>(n)]];
    if (channel == C - 1) this->mark_done(i, j);
  }

 protected:
  void compute(int64_t i, int64_t j, T*) override {
    fail("pixelcnnpp fast sampler: pixel ({}, {}) was read before it was drawn", i, j);
  }

 private:
  std::vector<T> levels_;
};

// A convolution of `src` evaluated at single positions: tap (ky, kx) of output (i, j) reads
// src (stride i - top + ky, stride j - left + kx), zero outside the map, as the padded
// convolution does. weight [out, in, kh, kw], bias [out].
template <typename T>
class ConvMap : public Map<T> {
 public:
  struct Geometry {
    int64_t stride = 1, top = 0, left = 0;
  };
  ConvMap(Map<T>& src, const Tensor& weight, const Tensor& bias, Geometry g)
      : Map<T>(src.height() / g.stride, src.width() / g.stride, weight.size(0), src.batch()),
        src_(src),
        g_(g),
        kh_(weight.size(2)),
        kw_(weight.size(3)),
        // The weights as the convolution's GEMM reads them: [out, in * kh * kw], as is.
        weight_(reshape(weight.detach().to(Device::cpu()), {weight.size(0), -1}).clone()),
        bias_(bias.detach().to(Device::cpu()).to_vector<T>()),
        col_(Tensor::zeros({weight_.size(1), src.batch()}, dtype_of<T>())),
        y_(Tensor::empty({weight.size(0), src.batch()}, dtype_of<T>())),
        taps_(static_cast<size_t>(kh_ * kw_)) {
    GM_CHECK(weight.size(1) == src.channels(),
             "pixelcnnpp fast sampler: a convolution of {} input channels reads a map of {}",
             weight.size(1), src.channels());
  }

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    const int64_t B = this->batch(), in = src_.channels(), taps = kh_ * kw_;
    for (int64_t ky = 0; ky < kh_; ++ky)
      for (int64_t kx = 0; kx < kw_; ++kx) {
        const int64_t r = g_.stride * i - g_.top + ky, c = g_.stride * j - g_.left + kx;
        taps_[static_cast<size_t>(ky * kw_ + kx)] =
            r < 0 || c < 0 || c >= src_.width() ? nullptr : src_.at(r, c);
      }
    // im2col's row order: input channel major, taps in raster order.
    T* col = col_.data<T>();
    for (int64_t ci = 0; ci < in; ++ci)
      for (int64_t t = 0; t < taps; ++t, col += B) {
        const T* from = taps_[static_cast<size_t>(t)];
        if (from == nullptr)
          std::fill_n(col, B, T(0));
        else
          std::memcpy(col, from + ci * B, sizeof(T) * static_cast<size_t>(B));
      }
    const int64_t out_channels = this->channels();
    T* y = y_.data<T>();
    Gemm gemm;
    gemm.m = out_channels, gemm.n = B, gemm.k = in * taps;
    // Double precision: the convolution starts from the bias and accumulates onto it; single
    // precision adds it after the sum (the GEMM's epilogue). Same order, same bits.
    if constexpr (std::is_same_v<T, double>) {
      for (int64_t k = 0; k < out_channels; ++k)
        std::fill_n(y + k * B, B, bias_[static_cast<size_t>(k)]);
      gemm.beta = 1.0;
    }
    weight_.backend().gemm(gemm, weight_, col_, y_);
    if constexpr (std::is_same_v<T, float>)
      for (int64_t k = 0; k < out_channels; ++k)
        for (int64_t n = 0; n < B; ++n)
          y[k * B + n] = y[k * B + n] + bias_[static_cast<size_t>(k)];
    std::copy_n(y, out_channels * B, out);
  }

 private:
  Map<T>& src_;
  Geometry g_;
  int64_t kh_, kw_;
  Tensor weight_;
  std::vector<T> bias_;
  Tensor col_, y_;
  std::vector<const T*> taps_;
};

// A stride-2 transposed convolution, in two maps. TransposedColumns, at the input's resolution,
// holds the GEMM columns W^T x of each input position: [out * kh * kw, B], the contribution of
// every tap. TransposedConvMap, at twice the resolution, sums the taps that land on its
// position. weight [in, out, kh, kw] (kh = 2), bias [out].
template <typename T>
class TransposedColumns : public Map<T> {
 public:
  TransposedColumns(Map<T>& src, const Tensor& weight)
      : Map<T>(src.height(), src.width(), weight.numel() / weight.size(0), src.batch()),
        src_(src),
        weight_(reshape(weight.detach().to(Device::cpu()), {weight.size(0), -1}).clone()),
        x_(Tensor::empty({weight.size(0), src.batch()}, dtype_of<T>())),
        y_(Tensor::empty({weight_.size(1), src.batch()}, dtype_of<T>())) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    const int64_t B = this->batch();
    std::copy_n(src_.at(i, j), src_.channels() * B, x_.data<T>());
    // The transposed convolution's GEMM (the adjoint convolution's backward-data): W^T x.
    Gemm gemm;
    gemm.trans_a = true;
    gemm.m = this->channels(), gemm.n = B, gemm.k = src_.channels();
    weight_.backend().gemm(gemm, weight_, x_, y_);
    std::copy_n(y_.data<T>(), this->channels() * B, out);
  }

 private:
  Map<T>& src_;
  Tensor weight_, x_, y_;
};

template <typename T>
class TransposedConvMap : public Map<T> {
 public:
  // crop_left: columns of the full output dropped on the left.
  TransposedConvMap(TransposedColumns<T>& columns, const Tensor& weight, const Tensor& bias,
                    int64_t crop_left)
      : Map<T>(2 * columns.height(), 2 * columns.width(), weight.size(1), columns.batch()),
        columns_(columns),
        kh_(weight.size(2)),
        kw_(weight.size(3)),
        crop_left_(crop_left),
        bias_(bias.detach().to(Device::cpu()).to_vector<T>()) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    // Input (a, b) adds tap (ky, kx) to full output (2a + ky, 2b + kx). Output row i takes only
    // ky = i - 2 (i / 2); col2im adds the taps in raster order onto zeros, then the bias.
    const int64_t B = this->batch(), K = this->channels(), taps = kh_ * kw_;
    const int64_t a = i / 2, ky = i - 2 * a, full_j = j + crop_left_;
    std::fill_n(out, K * B, T(0));
    for (int64_t kx = 0; kx < kw_; ++kx) {
      const int64_t twice_b = full_j - kx;
      if (twice_b < 0 || twice_b % 2 != 0 || twice_b / 2 >= columns_.width()) continue;
      const T* from = columns_.at(a, twice_b / 2) + (ky * kw_ + kx) * B;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < B; ++n)
          out[k * B + n] = out[k * B + n] + from[k * taps * B + n];
    }
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < B; ++n)
        out[k * B + n] = out[k * B + n] + bias_[static_cast<size_t>(k)];
  }

 private:
  TransposedColumns<T>& columns_;
  int64_t kh_, kw_, crop_left_;
  std::vector<T> bias_;
};

// elu(concat(x, -x)) of the concatenated sources (concat_elu), or elu(x) alone.
template <typename T>
class EluMap : public Map<T> {
 public:
  EluMap(std::vector<Map<T>*> srcs, bool with_negation)
      : Map<T>(srcs.front()->height(), srcs.front()->width(),
               (with_negation ? 2 : 1) * total_channels(srcs), srcs.front()->batch()),
        srcs_(std::move(srcs)),
        with_negation_(with_negation) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    for (int pass = 0; pass < (with_negation_ ? 2 : 1); ++pass)
      for (Map<T>* src : srcs_) {
        const T* x = src->at(i, j);
        const int64_t n = src->channels() * this->batch();
        for (int64_t k = 0; k < n; ++k)
          out[k] = math::unary_forward(UnaryOp::elu, pass == 0 ? x[k] : -x[k], T(1), T(1), T(0));
        out += n;
      }
  }

 private:
  static int64_t total_channels(const std::vector<Map<T>*>& srcs) {
    int64_t c = 0;
    for (const Map<T>* s : srcs)
      c += s->channels();
    return c;
  }
  std::vector<Map<T>*> srcs_;
  bool with_negation_;
};

// src moved `rows` down and `cols` right, zeros brought in (down_shift, right_shift).
template <typename T>
class ShiftMap : public Map<T> {
 public:
  ShiftMap(Map<T>& src, int64_t rows, int64_t cols)
      : Map<T>(src.height(), src.width(), src.channels(), src.batch()),
        src_(src),
        rows_(rows),
        cols_(cols) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    const int64_t n = this->channels() * this->batch();
    if (i < rows_ || j < cols_)
      std::fill_n(out, n, T(0));
    else
      std::copy_n(src_.at(i - rows_, j - cols_), n, out);
  }

 private:
  Map<T>& src_;
  int64_t rows_, cols_;
};

// a + b.
template <typename T>
class SumMap : public Map<T> {
 public:
  SumMap(Map<T>& a, Map<T>& b)
      : Map<T>(a.height(), a.width(), a.channels(), a.batch()), a_(a), b_(b) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    const T *a = a_.at(i, j), *b = b_.at(i, j);
    const int64_t n = this->channels() * this->batch();
    for (int64_t k = 0; k < n; ++k)
      out[k] = a[k] + b[k];
  }

 private:
  Map<T>&a_, &b_;
};

// The gated residual's output x + a * sigmoid(b), with [a | b] the halves of `ab`'s channels.
template <typename T>
class GateMap : public Map<T> {
 public:
  GateMap(Map<T>& x, Map<T>& ab)
      : Map<T>(x.height(), x.width(), x.channels(), x.batch()), x_(x), ab_(ab) {}

 protected:
  void compute(int64_t i, int64_t j, T* out) override {
    const T *x = x_.at(i, j), *a = ab_.at(i, j);
    const int64_t n = this->channels() * this->batch();
    const T* b = a + n;
    for (int64_t k = 0; k < n; ++k) {
      const T gate = math::unary_forward(UnaryOp::sigmoid, b[k], T(1), T(1), T(0));
      const T product = a[k] * gate;
      out[k] = x[k] + product;
    }
  }

 private:
  Map<T>&x_, &ab_;
};

}  // namespace gm::models::pixelcnnpp

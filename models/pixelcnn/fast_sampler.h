#pragma once
// Fast PixelCNN sampling: the same images as PixelCnn::sample, computed with one network
// evaluation's worth of work instead of H * W * C of them.
//
// The naive sampler runs the whole network over the whole image for every pixel (and colour
// channel) it draws: H*W*C passes of H*W positions each, O(N^4) work for an N x N image,
// although drawing pixel t changes only the activations that can see t. Every masked layer's
// output at position p depends only on pixels before p in raster order (type A first layer,
// type B after it), so once the pixels before p are drawn, every activation at p is final and
// never changes again. The sampler therefore evaluates each layer at the current position
// only, reading the earlier positions a k x k kernel sees from per-layer caches of the last
// k/2 + 1 rows (the incremental scheme of Fast PixelCNN++, Ramachandran et al. 2017). The 1x1
// layers need no cache at all. Total work: one network evaluation per image (times C for
// colour, since each channel's draw re-evaluates the current position), in H*W sequential
// steps.
//
// Exactness: each position's outputs are computed with the same backend GEMM as the naive
// convolution (im2col + GEMM, the same gathered weights and the same tap order), and the draws
// use the same kernels and the same Philox offsets (one `gen.advance(count)` per pixel and
// channel, in raster order), so the same generator state gives the same images. Logits can
// still differ in the last bit where the BLAS library picks a different micro-kernel for the
// narrow matrices of one position (OpenBLAS does for float32 on AVX-512); a last-bit change
// moves a sampled pixel only if the uniform lands within ~1e-7 of a CDF step.
// tests/test_fast_sampling.cpp checks equal images and logits to rounding.
//
// CPU only (the per-position steps are tiny and latency-bound; a GPU version would keep the
// caches on the device and fuse each step into a few kernels).
#include <cstring>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "kernels/common/mask.h"
#include "kernels/common/unary_math.h"
#include "models/images.h"
#include "models/pixelcnn/pixelcnn.h"

namespace gm::models {

// The building blocks of incremental (one position at a time) network evaluation, shared with
// the Row LSTM's fast sampler (models/pixelrnn/fast_sampler.cpp).
namespace incremental {

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

// One (masked) convolution evaluated at a single position for the whole batch:
//   y [out, B] = W_g [out, in * taps] col [in * taps, B] (+ bias),
// with W_g the weights of the computed taps gathered exactly as the CPU convolution
// (kernels/cpu/conv.cpp) gathers them (row ci * taps + t, taps in raster order, forbidden
// centre pairs zero), so each output is the dot product the naive pass computes, in the same
// order. Padding is kh/2, kw/2 ("same"), as in masked_conv2d and the 1x1 convolutions.
template <typename T>
struct PositionConv {
  int64_t in = 0, out = 0, batch = 0;
  std::vector<std::pair<int64_t, int64_t>> taps;  // (dy, dx) of the computed taps
  Tensor weight, col, y;
  T* col_data = nullptr;  // col's and y's storage, looked up once (the steps are tiny)
  T* y_data = nullptr;
  std::vector<T> bias;  // empty: no bias

  // w [out, in, kh, kw]; b [out] or undefined.
  PositionConv(const Tensor& w, const Tensor& b, MaskType type, int groups, int64_t batch_size) {
    out = w.size(0), in = w.size(1), batch = batch_size;
    const int64_t kh = w.size(2), kw = w.size(3);
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        if (mask::tap_used(type, groups, kh, kw, ky, kx))
          taps.emplace_back(ky - kh / 2, kx - kw / 2);
    const int64_t n_taps = static_cast<int64_t>(taps.size()), rows = in * n_taps;
    const std::vector<T> wv = w.to_vector<T>();
    std::vector<T> gathered(static_cast<size_t>(out * rows), T(0));
    for (int64_t co = 0; co < out; ++co)
      for (int64_t ci = 0; ci < in; ++ci)
        for (int64_t t = 0; t < n_taps; ++t) {
          const int64_t ky = taps[t].first + kh / 2, kx = taps[t].second + kw / 2;
          if (mask::weight_visible(type, groups, kh, kw, ky, kx, ci, in, co, out))
            gathered[static_cast<size_t>(co * rows + ci * n_taps + t)] =
                wv[static_cast<size_t>(((co * in + ci) * kh + ky) * kw + kx)];
        }
    weight = Tensor::from_vector(gathered, {out, rows});
    if (b.defined()) bias = b.to_vector<T>();
    col = Tensor::zeros({rows, batch}, dtype_of<T>());
    y = Tensor::empty({out, batch}, dtype_of<T>());
    col_data = col.data<T>();
    y_data = y.data<T>();
  }

  // col <- the window around (r, c) of a cached map (zero where the window leaves the image).
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
  // y <- W_g col, then + bias (added after the GEMM, as the conv ops' broadcasting add does).
  void run() {
    Gemm g;
    g.m = out, g.n = batch, g.k = in * static_cast<int64_t>(taps.size());
    weight.backend().gemm(g, weight, col, y);
    if (bias.empty()) return;
    for (int64_t k = 0; k < out; ++k) {
      const T bk = bias[static_cast<size_t>(k)];
      T* yk = y_data + k * batch;
      for (int64_t i = 0; i < batch; ++i)
        yk[i] = yk[i] + bk;
    }
  }
};

}  // namespace incremental

// Draws `count` images; same contract, same generator use and same result as model.sample.
Tensor sample_pixelcnn_fast(const PixelCnn& model, int64_t count, double temperature,
                            Generator& gen);

// Teacher forcing through the incremental evaluator: logits [N, V, C, H, W] of uint8 images
// [N, C, H, W], computed position by position from the caches. For tests: it equals
// model.logits(scale_images(images)) up to rounding (binary models: pass {0, 255} images).
Tensor pixelcnn_incremental_logits(const PixelCnn& model, const Tensor& images);

}  // namespace gm::models

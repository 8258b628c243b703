#include "models/pixelcnn/fast_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <utility>

#include "engine/autograd.h"
#include "kernels/common/mask.h"
#include "kernels/common/unary_math.h"
#include "models/images.h"

namespace gm::models {

namespace {

template <typename T>
T relu(T x) {
  return math::unary_forward(math::kRelu, x, T(0), T(1), T(0));
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
//   y [out, B] = W_g [out, in * taps] col [in * taps, B] + bias,
// with W_g the weights of the computed taps gathered exactly as the CPU convolution gathers
// them (row ci * taps + t, forbidden centre pairs set to zero), so each output is the same
// dot product, in the same order, as the naive pass computes.
template <typename T>
struct PositionConv {
  int64_t in = 0, out = 0, kernel = 1;
  std::vector<std::pair<int64_t, int64_t>> taps;  // (dy, dx) of the computed taps, raster order
  Tensor weight, col, y;
  std::vector<T> bias;

  PositionConv(const Tensor& w, const Tensor& b, MaskType type, int groups, int64_t batch) {
    out = w.size(0), in = w.size(1), kernel = w.size(2);
    const int64_t k = kernel, half = k / 2;
    for (int64_t ky = 0; ky < k; ++ky)
      for (int64_t kx = 0; kx < k; ++kx)
        if (mask::tap_used(type, groups, k, k, ky, kx)) taps.emplace_back(ky - half, kx - half);
    const int64_t n_taps = static_cast<int64_t>(taps.size()), rows = in * n_taps;
    const std::vector<T> wv = w.to_vector<T>();
    std::vector<T> gathered(static_cast<size_t>(out * rows), T(0));
    for (int64_t co = 0; co < out; ++co)
      for (int64_t ci = 0; ci < in; ++ci)
        for (int64_t t = 0; t < n_taps; ++t) {
          const int64_t ky = taps[t].first + half, kx = taps[t].second + half;
          if (mask::weight_visible(type, groups, k, k, ky, kx, ci, in, co, out))
            gathered[static_cast<size_t>(co * rows + ci * n_taps + t)] =
                wv[static_cast<size_t>(((co * in + ci) * k + ky) * k + kx)];
        }
    weight = Tensor::from_vector(gathered, {out, rows});
    bias = b.to_vector<T>();
    col = Tensor::zeros({rows, batch}, dtype_of<T>());
    y = Tensor::empty({out, batch}, dtype_of<T>());
  }

  int64_t batch() const { return col.size(1); }
  T* col_data() { return col.data<T>(); }
  const T* y_data() const { return y.data<T>(); }

  // col <- the window around (r, c) of a cached map (zero where the window leaves the image).
  void gather(RowRing<T>& src, int64_t r, int64_t c, int64_t width) {
    const int64_t n_taps = static_cast<int64_t>(taps.size()), b = batch();
    T* dst = col_data();
    for (int64_t ci = 0; ci < in; ++ci)
      for (int64_t t = 0; t < n_taps; ++t, dst += b) {
        const int64_t rr = r + taps[t].first, cc = c + taps[t].second;
        if (rr < 0 || cc < 0 || cc >= width)
          std::fill_n(dst, b, T(0));
        else
          std::memcpy(dst, src.at(rr, cc) + ci * b, sizeof(T) * static_cast<size_t>(b));
      }
  }
  // col <- relu(x) for a 1x1 layer whose input is the current position's [in, B].
  void relu_input(const T* x) {
    T* dst = col_data();
    for (int64_t i = 0; i < in * batch(); ++i)
      dst[i] = relu(x[i]);
  }
  // y <- W_g col + bias (the bias added after the GEMM, as the conv op's broadcasting add does).
  void run() {
    Backend::Gemm g;
    g.m = out, g.n = batch(), g.k = col.size(0);
    weight.backend().gemm(g, weight, col, y);
    T* yp = y.data<T>();
    const int64_t b = batch();
    for (int64_t k = 0; k < out; ++k)
      for (int64_t i = 0; i < b; ++i)
        yp[k * b + i] = yp[k * b + i] + bias[static_cast<size_t>(k)];
  }
};

const Tensor& parameter(const std::map<std::string, Tensor>& params, const PixelCnn& model,
                        const std::string& name) {
  auto it = params.find(name);
  GM_CHECK(it != params.end(),
           "fast PixelCNN sampler: model {} has no parameter '{}'; the sampler follows the "
           "layer names of models/pixelcnn/pixelcnn.cpp",
           model.config_name(), name);
  return it->second;
}

// The whole network evaluated one position at a time (see the header).
template <typename T>
class Incremental {
 public:
  Incremental(const PixelCnn& model, int64_t batch)
      : shape_(model.image_shape()),
        batch_(batch),
        image_(model.config().first_kernel / 2 + 1, shape_.width, shape_.channels, batch) {
    const PixelCnnConfig& cfg = model.config();
    const int groups = static_cast<int>(shape_.channels);
    std::map<std::string, Tensor> params;
    for (const nn::NamedTensor& p : model.parameters())
      params.emplace(p.name, p.tensor.detach().to(Device::cpu()));
    auto conv = [&](const std::string& name, MaskType type) {
      return PositionConv<T>(parameter(params, model, name + ".weight"),
                             parameter(params, model, name + ".bias"), type, groups, batch);
    };
    layers_.push_back(conv("input", MaskType::A));
    for (int64_t b = 0; b < cfg.blocks; ++b) {
      const std::string block = "block" + std::to_string(b);
      for (const char* layer : {".reduce", ".masked", ".expand"})
        layers_.push_back(conv(block + layer, MaskType::B));
      caches_.emplace_back(cfg.block_kernel / 2 + 1, shape_.width, cfg.hidden, batch);
    }
    layers_.push_back(conv("head1", MaskType::B));
    layers_.push_back(conv("head2", MaskType::B));
    x_.resize(static_cast<size_t>(cfg.filters * batch));
  }

  RowRing<T>& image() { return image_; }
  // Logits at the last evaluated position: [C * V, B] (channel c's V logits are group c).
  const T* logits() const { return layers_.back().y_data(); }

  // Every layer at (r, c). Needs the image and the caches filled for all earlier positions.
  void evaluate(int64_t r, int64_t c) {
    const int64_t w = shape_.width;
    PositionConv<T>& first = layers_.front();
    first.gather(image_, r, c, w);
    first.run();
    std::copy_n(first.y_data(), x_.size(), x_.data());
    for (size_t b = 0; b < caches_.size(); ++b) {
      PositionConv<T>& reduce = layers_[1 + 3 * b];
      PositionConv<T>& masked = layers_[2 + 3 * b];
      PositionConv<T>& expand = layers_[3 + 3 * b];
      reduce.relu_input(x_.data());
      reduce.run();
      // Only relu(reduce(..)) is ever read, so the cache keeps it post-activation.
      T* cached = caches_[b].at(r, c);
      for (int64_t i = 0; i < reduce.out * batch_; ++i)
        cached[i] = relu(reduce.y_data()[i]);
      masked.gather(caches_[b], r, c, w);
      masked.run();
      expand.relu_input(masked.y_data());
      expand.run();
      for (size_t i = 0; i < x_.size(); ++i)
        x_[i] = x_[i] + expand.y_data()[i];  // the residual: x + expand(...)
    }
    PositionConv<T>& head1 = layers_[layers_.size() - 2];
    PositionConv<T>& head2 = layers_.back();
    head1.relu_input(x_.data());
    head1.run();
    head2.relu_input(head1.y_data());
    head2.run();
  }

 private:
  ImageShape shape_;
  int64_t batch_;
  RowRing<T> image_;                // the network input (scaled pixels), k/2 + 1 rows of 7x7
  std::vector<RowRing<T>> caches_;  // per block: relu(reduce) for its k x k masked layer
  std::vector<PositionConv<T>> layers_;
  std::vector<T> x_;  // the residual stream at the current position [filters, B]
};

// The 256 values scale_images gives the pixel levels, so cached inputs are bit-identical to
// the naive sampler's input tensor.
template <typename T>
std::vector<T> level_table() {
  std::vector<uint8_t> levels(256);
  for (int i = 0; i < 256; ++i)
    levels[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  return scale_images(Tensor::from_vector(levels, {256}), dtype_of<T>(), Device::cpu())
      .template to_vector<T>();
}

// Draws one channel for the whole batch exactly as PixelCnn::sample does: logits [B, V]
// scaled by 1/temperature, then a categorical draw (or a Bernoulli one for binary models)
// consuming B counters of `gen`. logits_channel is laid out [V, B].
template <typename T>
std::vector<int32_t> draw(const T* logits_channel, int64_t batch, int64_t values, bool binary,
                          double temperature, Generator& gen) {
  std::vector<T> rows(static_cast<size_t>(batch * values));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t v = 0; v < values; ++v)
      rows[static_cast<size_t>(b * values + v)] = logits_channel[v * batch + b];
  Tensor at = Tensor::from_vector(rows, {batch, values}) * (1.0 / temperature);
  if (binary) return bernoulli_draw(sigmoid(at), gen).to_vector<int32_t>();
  Tensor out = Tensor::empty({batch}, DType::i32);
  at.backend().sample_categorical(reshape(at, {batch, values, 1}), 1.0, gen.seed(),
                                  gen.advance(static_cast<uint64_t>(batch)), out);
  return out.to_vector<int32_t>();
}

template <typename T>
Tensor sample_impl(const PixelCnn& model, int64_t count, double temperature, Generator& gen) {
  const ImageShape s = model.image_shape();
  const int64_t C = s.channels, H = s.height, W = s.width, V = model.values();
  const bool binary = model.config().binary;
  const std::vector<T> level = level_table<T>();
  Incremental<T> net(model, count);
  std::vector<uint8_t> pixels(static_cast<size_t>(count * C * H * W), 0);
  for (int64_t r = 0; r < H; ++r) {
    net.image().fill_row(r, level[0]);  // undrawn pixels are 0, as in the naive sampler
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch) {
        net.evaluate(r, c);
        const std::vector<int32_t> drawn =
            draw(net.logits() + ch * V * count, count, V, binary, temperature, gen);
        T* input = net.image().at(r, c) + ch * count;
        for (int64_t n = 0; n < count; ++n) {
          const int32_t d = drawn[static_cast<size_t>(n)];
          const uint8_t value = static_cast<uint8_t>(binary ? 255 * d : d);
          pixels[static_cast<size_t>(((n * C + ch) * H + r) * W + c)] = value;
          input[n] = level[value];
        }
      }
  }
  return Tensor::from_vector(pixels, {count, C, H, W});
}

template <typename T>
Tensor logits_impl(const PixelCnn& model, const Tensor& images) {
  const ImageShape s = model.image_shape();
  const int64_t N = images.size(0), C = s.channels, H = s.height, W = s.width;
  const int64_t V = model.values();
  const std::vector<T> level = level_table<T>();
  const std::vector<uint8_t> pixels = images.to_vector<uint8_t>();
  Incremental<T> net(model, N);
  std::vector<T> out(static_cast<size_t>(N * V * C * H * W));
  for (int64_t r = 0; r < H; ++r) {
    // The whole row at once: a position never reads its own row to its right.
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t n = 0; n < N; ++n)
          net.image().at(r, c)[ch * N + n] =
              level[pixels[static_cast<size_t>(((n * C + ch) * H + r) * W + c)]];
    for (int64_t c = 0; c < W; ++c) {
      net.evaluate(r, c);
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t v = 0; v < V; ++v)
          for (int64_t n = 0; n < N; ++n)
            out[static_cast<size_t>((((n * V + v) * C + ch) * H + r) * W + c)] =
                net.logits()[(ch * V + v) * N + n];
    }
  }
  return Tensor::from_vector(out, {N, V, C, H, W});
}

DType checked_dtype(const PixelCnn& model, const char* what) {
  const std::vector<nn::NamedTensor> params = model.parameters();
  GM_CHECK(!params.empty(), "{}: model {} has no parameters", what, model.config_name());
  const Tensor& p = params.front().tensor;
  GM_CHECK(p.device().is_cpu(),
           "{}: the fast sampler runs on the cpu, but model {} lives on {}; sample on the cpu "
           "or use the naive sampler (model.sample)",
           what, model.config_name(), p.device().name());
  return p.dtype();
}

}  // namespace

Tensor sample_pixelcnn_fast(const PixelCnn& model, int64_t count, double temperature,
                            Generator& gen) {
  const char* what = "fast PixelCNN sampler";
  GM_CHECK(count >= 1, "{}: sample count must be positive, got {}", what, count);
  GM_CHECK(temperature > 0.0 && std::isfinite(temperature),
           "{}: temperature must be a positive number, got {}", what, temperature);
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? sample_impl<double>(model, count, temperature, gen)
                             : sample_impl<float>(model, count, temperature, gen);
}

Tensor pixelcnn_incremental_logits(const PixelCnn& model, const Tensor& images) {
  const char* what = "incremental PixelCNN logits";
  const ImageShape s = model.image_shape();
  GM_CHECK(images.dtype() == DType::u8 && images.ndim() == 4 && images.size(1) == s.channels &&
               images.size(2) == s.height && images.size(3) == s.width,
           "{}: expected uint8 images [N, {}, {}, {}], got {}", what, s.channels, s.height, s.width,
           images.describe());
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? logits_impl<double>(model, images)
                             : logits_impl<float>(model, images);
}

}  // namespace gm::models

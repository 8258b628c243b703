#include "models/pixelcnn/fast_sampler.h"

#include <algorithm>
#include <map>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/sampling_checks.h"

namespace gm::models {

namespace {

using incremental::level_table;
using incremental::PositionConv;
using incremental::relu;
using incremental::RowRing;

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
  const T* logits() const { return layers_.back().y_data; }

  // Every layer at (r, c). Needs the image and the caches filled for all earlier positions.
  void evaluate(int64_t r, int64_t c) {
    const int64_t w = shape_.width;
    PositionConv<T>& first = layers_.front();
    first.gather(image_, r, c, w);
    first.run();
    std::copy_n(first.y_data, x_.size(), x_.data());
    for (size_t b = 0; b < caches_.size(); ++b) {
      PositionConv<T>& reduce = layers_[1 + 3 * b];
      PositionConv<T>& masked = layers_[2 + 3 * b];
      PositionConv<T>& expand = layers_[3 + 3 * b];
      reduce.input(x_.data(), true);
      reduce.run();
      // Only relu(reduce(..)) is ever read, so the cache keeps it post-activation.
      T* cached = caches_[b].at(r, c);
      const int64_t n = reduce.out * batch_;
      for (int64_t i = 0; i < n; ++i)
        cached[i] = relu(reduce.y_data[i]);
      masked.gather(caches_[b], r, c, w);
      masked.run();
      expand.input(masked.y_data, true);
      expand.run();
      T* x = x_.data();
      const T* e = expand.y_data;
      const size_t n_x = x_.size();
      for (size_t i = 0; i < n_x; ++i)
        x[i] = x[i] + e[i];  // the residual: x + expand(...)
    }
    PositionConv<T>& head1 = layers_[layers_.size() - 2];
    PositionConv<T>& head2 = layers_.back();
    head1.input(x_.data(), true);
    head1.run();
    head2.input(head1.y_data, true);
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

// Draws one channel for the whole batch with the same ops and arguments as PixelCnn::sample:
// logits [B, V], the temperature passed to the categorical draw (which divides in double inside
// the kernel; scaling the logits first would round differently and could flip a draw), or
// sigmoid(logits / T) for binary models; B counters of `gen` either way. logits_channel is
// laid out [V, B].
template <typename T>
std::vector<int32_t> draw(const T* logits_channel, int64_t batch, int64_t values, bool binary,
                          double temperature, Generator& gen) {
  std::vector<T> rows(static_cast<size_t>(batch * values));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t v = 0; v < values; ++v)
      rows[static_cast<size_t>(b * values + v)] = logits_channel[v * batch + b];
  const Tensor at = Tensor::from_vector(rows, {batch, values});
  if (binary) return bernoulli_draw(sigmoid(at * (1.0 / temperature)), gen).to_vector<int32_t>();
  return sample_categorical(at, temperature, gen).to_vector<int32_t>();
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
  GM_CHECK(model.num_classes() == 0,
           "{}: {} is class-conditional; the incremental sampler has no per-class biases, use "
           "the model's own sample(labels, ...)",
           what, model.config_name());
  return cpu_model_dtype(what, model.config_name(), model.parameters());
}

}  // namespace

Tensor sample_pixelcnn_fast(const PixelCnn& model, int64_t count, double temperature,
                            Generator& gen) {
  const char* what = "fast PixelCNN sampler";
  check_sampling_request(what, count, temperature);
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? sample_impl<double>(model, count, temperature, gen)
                             : sample_impl<float>(model, count, temperature, gen);
}

Tensor pixelcnn_incremental_logits(const PixelCnn& model, const Tensor& images) {
  const char* what = "incremental PixelCNN logits";
  check_image_batch(what, model.image_shape(), images);
  const DType dtype = checked_dtype(model, what);
  NoGradGuard no_grad;
  return dtype == DType::f64 ? logits_impl<double>(model, images)
                             : logits_impl<float>(model, images);
}

}  // namespace gm::models

#include "models/autoregressive_model.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/labels.h"
#include "models/sampling_checks.h"

namespace gm::models {

bool AutoregressiveModel::samples_incrementally() const {
  const std::vector<nn::NamedTensor> params = parameters();
  return !params.empty() && params.front().tensor.device().is_cpu();
}

Tensor AutoregressiveModel::sample(int64_t count, double temperature, Generator& gen) {
  if (samples_incrementally()) return sample_incremental(*this, count, temperature, gen);
  return sample_naive(count, temperature, gen);
}

std::unique_ptr<IncrementalEvaluator> AutoregressiveModel::incremental_by_label(
    int64_t, const Tensor&) const {
  fail("{}: the model is not class-conditional: sample it without labels", config_name());
}

Tensor AutoregressiveModel::sample_naive_by_label(const Tensor&, double, Generator&) {
  fail("{}: the model is not class-conditional: sample it without labels", config_name());
}

Tensor AutoregressiveModel::sample(const Tensor& labels, double temperature, Generator& gen) {
  if (num_classes() == 0) return Model::sample(labels, temperature, gen);
  GM_CHECK(labels.defined(), "{}: a class-conditional model samples by label (--label)",
           config_name());
  check_labels(config_name(), labels, labels.size(0), num_classes());
  if (samples_incrementally())
    return sample_incremental(*this, labels.size(0), temperature, gen, labels);
  return sample_naive_by_label(labels, temperature, gen);
}

namespace {

// Values one draw() gives per image: the whole pixel's channels, or one.
int64_t values_per_draw(const AutoregressiveModel& model) {
  return model.draws_whole_pixels() ? model.image_shape().channels : 1;
}

std::unique_ptr<IncrementalEvaluator> evaluator_for(const AutoregressiveModel& model, int64_t batch,
                                                    const Tensor& labels) {
  // incremental_by_label checks the labels against the model's classes.
  if (!labels.defined()) return model.incremental(batch);
  return model.incremental_by_label(batch, labels);
}

}  // namespace

std::vector<uint8_t> draw_categorical(const Tensor& output, double temperature, Generator& gen) {
  const std::vector<int32_t> drawn =
      sample_categorical(output, temperature, gen).to_vector<int32_t>();
  std::vector<uint8_t> values(drawn.size());
  for (size_t n = 0; n < drawn.size(); ++n)
    values[n] = static_cast<uint8_t>(drawn[n]);
  return values;
}

Tensor outputs_by_channel(const Tensor& head, int64_t channels) {
  const int64_t n = head.size(0), v = head.size(1) / channels, h = head.size(2), w = head.size(3);
  const Tensor grouped = reshape(head, {n, channels, v, h, w});
  return channels == 1 ? reshape(grouped, {n, v, 1, h, w}) : permute(grouped, {0, 2, 1, 3, 4});
}

LossOutput categorical_loss(const Tensor& logits, const Tensor& images, const ImageShape& shape,
                            bool read) {
  LossOutput out;
  out.loss = mean(softmax_cross_entropy(logits, images));
  read_loss_value(out, shape, read);
  return out;
}

Tensor sample_by_full_passes(const AutoregressiveModel& model, int64_t count, double temperature,
                             Generator& gen) {
  return sample_by_full_passes(model, count, temperature, gen,
                               [&](const Tensor& x) { return model.logits(x); });
}

Tensor sample_by_full_passes(const AutoregressiveModel& model, int64_t count, double temperature,
                             Generator& gen, const std::function<Tensor(const Tensor&)>& network) {
  check_sampling_request(model.config_name(), count, temperature);
  NoGradGuard no_grad;
  const Tensor parameter = model.parameters().front().tensor;  // its dtype and device
  const ImageShape s = model.image_shape();
  const int64_t c = s.channels, h = s.height, w = s.width;
  const Shape image_shape{count, c, h, w};
  const int64_t per_draw = values_per_draw(model);
  std::vector<uint8_t> pixels(static_cast<size_t>(shape_numel(image_shape)), 0);
  for (int64_t row = 0; row < h; ++row)
    for (int64_t col = 0; col < w; ++col)
      for (int64_t ch = 0; ch < c; ch += per_draw) {
        const Tensor x = scale_images(Tensor::from_vector(pixels, image_shape), parameter.dtype(),
                                      parameter.device());
        // Row first: every slice but the last copies, and the row is 1/H of the outputs.
        const Tensor out = network(x);
        const int64_t step = ch / per_draw;
        const Tensor at =
            slice(slice(slice(out, 3, row, row + 1), 4, col, col + 1), 2, step, step + 1);
        const std::vector<uint8_t> drawn =
            model.draw(reshape(at, {count, out.size(1)}), temperature, gen);
        for (int64_t n = 0; n < count; ++n)
          for (int64_t k = 0; k < per_draw; ++k)
            pixels[static_cast<size_t>(((n * c + ch + k) * h + row) * w + col)] =
                drawn[static_cast<size_t>(n * per_draw + k)];
      }
  return Tensor::from_vector(pixels, image_shape);
}

Tensor sample_incremental(const AutoregressiveModel& model, int64_t count, double temperature,
                          Generator& gen, const Tensor& labels) {
  check_sampling_request(model.config_name(), count, temperature);
  NoGradGuard no_grad;
  const ImageShape s = model.image_shape();
  const int64_t C = s.channels, H = s.height, W = s.width;
  std::unique_ptr<IncrementalEvaluator> net = evaluator_for(model, count, labels);
  const int64_t per_draw = values_per_draw(model);
  std::vector<uint8_t> pixels(static_cast<size_t>(count * C * H * W), 0);
  std::vector<uint8_t> values(static_cast<size_t>(count));
  for (int64_t r = 0; r < H; ++r) {
    net->begin_row(r);
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ch += per_draw) {
        const std::vector<uint8_t> drawn = model.draw(net->output(r, c, ch), temperature, gen);
        for (int64_t k = 0; k < per_draw; ++k) {
          for (int64_t n = 0; n < count; ++n) {
            values[static_cast<size_t>(n)] = drawn[static_cast<size_t>(n * per_draw + k)];
            pixels[static_cast<size_t>(((n * C + ch + k) * H + r) * W + c)] =
                values[static_cast<size_t>(n)];
          }
          net->set(r, c, ch + k, values);
        }
      }
  }
  return Tensor::from_vector(pixels, {count, C, H, W});
}

Tensor incremental_outputs(const AutoregressiveModel& model, const Tensor& images,
                           const Tensor& labels) {
  const ImageShape s = model.image_shape();
  check_image_batch("incremental outputs", s, images);
  NoGradGuard no_grad;
  const int64_t N = images.size(0), C = s.channels, H = s.height, W = s.width;
  const std::vector<uint8_t> pixels = images.to_vector<uint8_t>();
  std::unique_ptr<IncrementalEvaluator> net = evaluator_for(model, N, labels);
  const int64_t per_draw = values_per_draw(model), steps = C / per_draw;
  std::vector<double> out;
  int64_t V = 0;
  std::vector<uint8_t> values(static_cast<size_t>(N));
  for (int64_t r = 0; r < H; ++r) {
    net->begin_row(r);
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ch += per_draw) {
        const Tensor at = net->output(r, c, ch);  // [N, V]
        if (out.empty()) {
          V = at.size(1);
          out.resize(static_cast<size_t>(N * V * steps * H * W));
        }
        const std::vector<double> v = at.to_vector<double>();
        const int64_t step = ch / per_draw;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < V; ++k)
            out[static_cast<size_t>((((n * V + k) * steps + step) * H + r) * W + c)] =
                v[static_cast<size_t>(n * V + k)];
        for (int64_t k = ch; k < ch + per_draw; ++k) {
          for (int64_t n = 0; n < N; ++n)
            values[static_cast<size_t>(n)] =
                pixels[static_cast<size_t>(((n * C + k) * H + r) * W + c)];
          net->set(r, c, k, values);
        }
      }
  }
  const DType dtype = model.parameters().front().tensor.dtype();
  return Tensor::from_vector(out, {N, V, steps, H, W}).to(dtype);
}

}  // namespace gm::models

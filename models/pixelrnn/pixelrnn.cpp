#include "models/pixelrnn/pixelrnn.h"

#include <cmath>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/pixelrnn/diagonal_bilstm.h"
#include "models/pixelrnn/fast_sampler.h"
#include "models/pixelrnn/row_lstm.h"
#include "models/sampling_checks.h"

namespace gm::pixelrnn {

namespace {

constexpr int64_t kLevels = 256;  // 8-bit intensities: each factor is a 256-way softmax

// logits[:, :, ch, r, c] of a [N, 256, C, H, W] tensor as [N, 256] (one copy).
Tensor logits_at(const Tensor& logits, int64_t ch, int64_t r, int64_t c) {
  const int64_t n = logits.size(0), chw = logits.size(2) * logits.size(3) * logits.size(4);
  Tensor out = Tensor::empty({n, kLevels}, logits.dtype(), logits.device());
  StridedCopy box;
  box.ndim = 2;
  box.extent = {n, kLevels};
  box.src_stride = {kLevels * chw, chw};
  box.dst_stride = {kLevels, 1};
  box.src_offset = (ch * logits.size(3) + r) * logits.size(4) + c;
  logits.backend().strided_copy(logits, out, box);
  return out;
}

// images[:, ch, r, c] = values (uint8 [N, 1]).
void write_at(Tensor& images, const Tensor& values, int64_t ch, int64_t r, int64_t c) {
  StridedCopy box;
  box.ndim = 1;
  box.extent = {images.size(0)};
  box.src_stride = {1};
  box.dst_stride = {images.size(1) * images.size(2) * images.size(3)};
  box.dst_offset = (ch * images.size(2) + r) * images.size(3) + c;
  images.backend().strided_copy(values, images, box);
}

}  // namespace

PixelRnn::PixelRnn(PixelRnnConfig config, const models::ImageShape& shape, const nn::Init& init)
    : config_(std::move(config)),
      shape_(shape),
      dtype_(init.dtype),
      device_(init.device),
      groups_(static_cast<int>(shape.channels)) {
  GM_CHECK(shape.channels >= 1 && shape.height >= 1 && shape.width >= 1,
           "{}: image shape {}x{}x{} is empty", config_.name, shape.channels, shape.height,
           shape.width);
  GM_CHECK(!config_.grey_only || shape.channels == 1,
           "{} is the reference architecture for 1-channel (grey) images, got {} channels; use a "
           "larger preset (e.g. rowlstm-large, diaglstm-large) for colour images",
           config_.name, shape.channels);
  GM_CHECK(config_.channels % groups_ == 0 && config_.hidden % groups_ == 0 &&
               config_.head_channels % groups_ == 0,
           "{}: with {} colour channels, the feature channels ({}), hidden units ({}) and head "
           "channels ({}) must all be multiples of {} (one block per colour)",
           config_.name, groups_, config_.channels, config_.hidden, config_.head_channels, groups_);
  input_ = &add_module<nn::MaskedConv2d>("input", shape.channels, config_.channels,
                                         config_.input_kernel, MaskType::A, groups_, init);
  for (int i = 0; i < config_.layers; ++i) {
    const std::string name = "layer" + std::to_string(i);
    if (config_.architecture == Architecture::row_lstm)
      layers_.push_back(
          &add_module<RowLstmLayer>(name, config_.channels, config_.hidden, groups_, init));
    else
      layers_.push_back(
          &add_module<DiagonalBiLstmLayer>(name, config_.channels, config_.hidden, groups_, init));
  }
  head1_ =
      &add_module<PointwiseConv>("head1", config_.channels, config_.head_channels, groups_, init);
  head2_ = &add_module<PointwiseConv>("head2", config_.head_channels, kLevels * shape.channels,
                                      groups_, init);
}

Tensor PixelRnn::scale(const Tensor& images) const {
  return models::scale_images(images, dtype_, device_);
}

Tensor PixelRnn::logits(const Tensor& x) const {
  check_ndim("pixelrnn logits", "x", x, 4);
  if (x.size(1) != shape_.channels || x.size(2) > shape_.height || x.size(3) != shape_.width)
    throw ShapeError(fmt::format("{}: input {} does not fit images of {}x{}x{} (C x H x W)",
                                 config_.name, x.describe(), shape_.channels, shape_.height,
                                 shape_.width));
  Tensor f = (*input_)(x);
  for (const RecurrentLayer* layer : layers_)
    f = (*layer)(f);
  // [N, 256 C, H, W], colour-major (R's 256 logits, then G's, then B's).
  const Tensor out = (*head2_)(relu((*head1_)(relu(f))));
  return models::outputs_by_channel(out, x.size(1));
}

models::LossOutput PixelRnn::loss(const Tensor& images, Generator&) {
  check_ndim("pixelrnn loss", "images", images, 4);
  if (images.size(1) != shape_.channels || images.size(2) != shape_.height ||
      images.size(3) != shape_.width)
    throw ShapeError(fmt::format("{}: images {} should be [N, {}, {}, {}]", config_.name,
                                 images.describe(), shape_.channels, shape_.height, shape_.width));
  const Tensor target = images.to(device_);
  return models::categorical_loss(logits(scale(target)), target, shape_, read_loss());
}

Tensor PixelRnn::sample_naive(int64_t count, double temperature, Generator& gen) {
  models::check_sampling_request(config_.name, count, temperature);
  NoGradGuard no_grad;
  Tensor images =
      Tensor::zeros({count, shape_.channels, shape_.height, shape_.width}, DType::u8, device_);
  for (int64_t r = 0; r < shape_.height; ++r)
    for (int64_t c = 0; c < shape_.width; ++c)
      for (int64_t ch = 0; ch < shape_.channels; ++ch) {
        // Rows below r cannot influence row r, so only the rows up to r are run.
        const Tensor lg = logits(scale(slice(images, 2, 0, r + 1)));
        const std::vector<uint8_t> drawn = draw(logits_at(lg, ch, r, c), temperature, gen);
        write_at(images, Tensor::from_vector(drawn, {count}).to(device_), ch, r, c);
      }
  return images;
}

std::unique_ptr<models::IncrementalEvaluator> PixelRnn::incremental(int64_t batch) const {
  return pixelrnn_evaluator(*this, batch);
}

std::vector<uint8_t> PixelRnn::draw(const Tensor& output, double temperature,
                                    Generator& gen) const {
  return models::draw_categorical(output, temperature, gen);
}

}  // namespace gm::pixelrnn

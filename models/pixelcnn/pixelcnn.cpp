#include "models/pixelcnn/pixelcnn.h"

#include "models/sampling_checks.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/labels.h"
#include "models/pixelcnn/fast_sampler.h"

namespace gm::models {

namespace {

// Every layer splits its channels into the image's colour groups, so widths must divide.
void check_divisible(const PixelCnnConfig& c, int groups) {
  for (auto [what, width] :
       {std::pair{"filters", c.filters}, std::pair{"hidden", c.hidden}, std::pair{"head", c.head}})
    GM_CHECK(width % groups == 0,
             "{}: {} = {} cannot be split into {} colour groups (R|G|B); use a configuration "
             "whose widths are multiples of 3 for colour images, e.g. pixelcnn-large",
             c.name, what, width, groups);
}

// h plus the layer's per-class bias in a conditional model (`bias` null: unconditional).
Tensor conditioned(const Tensor& h, const nn::ClassBias* bias, const Tensor& onehot) {
  return bias ? (*bias)(h, onehot) : h;
}

}  // namespace

PixelCnnBlock::PixelCnnBlock(const PixelCnnConfig& c, int groups, int64_t classes,
                             const nn::Init& init) {
  reduce_ =
      &add_module<nn::MaskedConv2d>("reduce", c.filters, c.hidden, 1, MaskType::B, groups, init);
  masked_ = &add_module<nn::MaskedConv2d>("masked", c.hidden, c.hidden, c.block_kernel, MaskType::B,
                                          groups, init);
  expand_ =
      &add_module<nn::MaskedConv2d>("expand", c.hidden, c.filters, 1, MaskType::B, groups, init);
  if (classes > 0) {
    reduce_class_ = &add_module<nn::ClassBias>("reduce_class", classes, c.hidden, init);
    masked_class_ = &add_module<nn::ClassBias>("masked_class", classes, c.hidden, init);
    expand_class_ = &add_module<nn::ClassBias>("expand_class", classes, c.filters, init);
  }
}

// Every convolution reads relu of its input through the fused op, and without a class bias the
// residual sum is the last convolution's epilogue: the same values as relu, conv and add.
Tensor PixelCnnBlock::operator()(const Tensor& x, const Tensor& onehot) const {
  Tensor h = conditioned(reduce_->relu_input(x), reduce_class_, onehot);
  h = conditioned(masked_->relu_input(h), masked_class_, onehot);
  if (!expand_class_) return expand_->relu_input(h, x);
  return x + conditioned(expand_->relu_input(h), expand_class_, onehot);
}

PixelCnn::PixelCnn(PixelCnnConfig config, ImageShape shape, const nn::Init& init, int64_t classes)
    : config_(std::move(config)),
      shape_(shape),
      device_(init.device),
      dtype_(init.dtype),
      classes_(classes) {
  GM_CHECK(classes >= 0, "{}: the number of classes must be >= 0, got {}", config_.name, classes);
  GM_CHECK(shape.channels == 1 || shape.channels == 3,
           "{}: images must have 1 (grey) or 3 (RGB) channels, got {}", config_.name,
           shape.channels);
  const int groups = static_cast<int>(shape.channels);
  check_divisible(config_, groups);
  // A 1x1 type-B layer with colour groups lets group g see groups <= g of the same pixel; with
  // one group it is a plain 1x1 convolution.
  first_ = &add_module<nn::MaskedConv2d>("input", shape.channels, config_.filters,
                                         config_.first_kernel, MaskType::A, groups, init);
  for (int64_t b = 0; b < config_.blocks; ++b)
    blocks_.push_back(
        &add_module<PixelCnnBlock>("block" + std::to_string(b), config_, groups, classes, init));
  head1_ = &add_module<nn::MaskedConv2d>("head1", config_.filters, config_.head, 1, MaskType::B,
                                         groups, init);
  head2_ = &add_module<nn::MaskedConv2d>("head2", config_.head, values() * shape.channels, 1,
                                         MaskType::B, groups, init);
  if (classes > 0) {
    first_class_ = &add_module<nn::ClassBias>("input_class", classes, config_.filters, init);
    head1_class_ = &add_module<nn::ClassBias>("head1_class", classes, config_.head, init);
    head2_class_ =
        &add_module<nn::ClassBias>("head2_class", classes, values() * shape.channels, init);
  }
}

Tensor PixelCnn::label_input(const Tensor& labels, int64_t count) const {
  return class_input(config_.name, labels, count, classes_, dtype_, device_);
}

Tensor PixelCnn::network_input(const Tensor& images, Generator& gen) const {
  GM_CHECK(images.ndim() == 4 && images.size(1) == shape_.channels &&
               images.size(2) == shape_.height && images.size(3) == shape_.width,
           "{}: expected images [N, {}, {}, {}], got {}", config_.name, shape_.channels,
           shape_.height, shape_.width, images.describe());
  if (!config_.binary) return scale_images(images, dtype_, device_);
  return binarize(images, gen, dtype_, device_) * 2.0 - 1.0;
}

Tensor PixelCnn::logits(const Tensor& x, const Tensor& onehot) const {
  GM_CHECK(onehot.defined() == (classes_ > 0),
           "{}: logits need the labels' one-hot [N, {}] exactly when the model is conditional",
           config_.name, classes_);
  Tensor h = conditioned((*first_)(x), first_class_, onehot);
  for (const PixelCnnBlock* block : blocks_)
    h = (*block)(h, onehot);
  h = conditioned(head1_->relu_input(h), head1_class_, onehot);
  return outputs_by_channel(conditioned(head2_->relu_input(h), head2_class_, onehot),
                            shape_.channels);
}

LossOutput PixelCnn::loss(const Tensor& images, Generator& gen) {
  return loss_given(images, label_input(Tensor(), images.size(0)), gen);
}

LossOutput PixelCnn::loss(const Tensor& images, const Tensor& labels, Generator& gen) {
  if (classes_ == 0) return Model::loss(images, labels, gen);
  return loss_given(images, label_input(labels, images.size(0)), gen);
}

LossOutput PixelCnn::loss_given(const Tensor& images, const Tensor& onehot, Generator& gen) {
  if (!config_.binary) {
    // One upload per step: the network's input and the targets both come from it.
    const Tensor batch = images.to(device_);
    return categorical_loss(logits(network_input(batch, gen), onehot), batch, shape_, read_loss());
  }
  Tensor x = network_input(images, gen);
  Tensor l = logits(x, onehot);
  // The target is the binarisation the network saw, back on {0, 1}.
  Tensor target = (x + 1.0) * 0.5;
  const Tensor nll = bernoulli_nll(reshape(l, target.shape()), target);  // [N] nats per image
  LossOutput out;
  out.loss = mean(nll);
  read_loss_value(out, shape_, read_loss());
  return out;
}

Tensor PixelCnn::sample_naive(int64_t count, double temperature, Generator& gen) {
  // Binary models see {0, 255} images: scale_images maps them to {-1, 1}, as in training.
  return sample_by_full_passes(*this, count, temperature, gen);
}

Tensor PixelCnn::sample_naive_by_label(const Tensor& labels, double temperature, Generator& gen) {
  GM_CHECK(classes_ > 0, "{}: the model is not class-conditional: sample it without labels",
           config_.name);
  const int64_t count = labels.defined() ? labels.size(0) : 0;
  const Tensor onehot = label_input(labels, count);
  return sample_by_full_passes(*this, count, temperature, gen,
                               [&](const Tensor& x) { return logits(x, onehot); });
}

std::unique_ptr<IncrementalEvaluator> PixelCnn::incremental(int64_t batch) const {
  GM_CHECK(classes_ == 0,
           "{}: a class-conditional model needs one label per image: sample it by label "
           "(sample(labels, ...), `genmodel sample --label`)",
           config_.name);
  return pixelcnn_evaluator(*this, batch, Tensor());
}

std::unique_ptr<IncrementalEvaluator> PixelCnn::incremental_by_label(int64_t batch,
                                                                     const Tensor& labels) const {
  GM_CHECK(classes_ > 0, "{}: the model is not class-conditional: sample it without labels",
           config_.name);
  check_labels(config_.name, labels, batch, classes_);
  return pixelcnn_evaluator(*this, batch, labels);
}

std::vector<uint8_t> PixelCnn::draw(const Tensor& output, double temperature,
                                    Generator& gen) const {
  if (!config_.binary) return draw_categorical(output, temperature, gen);
  std::vector<uint8_t> values =
      bernoulli_draw(sigmoid(output * (1.0 / temperature)), gen).to_vector<uint8_t>();
  for (uint8_t& v : values)
    v = static_cast<uint8_t>(255 * v);
  return values;
}

}  // namespace gm::models

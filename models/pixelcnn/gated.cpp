#include "models/pixelcnn/gated.h"

#include "models/images.h"
#include "models/labels.h"
#include "models/sampling_checks.h"

namespace gm::models {

namespace {

constexpr int64_t kLevels = 256;

// The 2p gate channels split evenly into f and g inside each colour group.
void check_widths(const GatedPixelCnnConfig& c, int groups) {
  GM_CHECK(c.layers >= 1 && c.filters >= 1 && c.head >= 1,
           "{}: layers ({}), filters ({}) and head ({}) must be positive", c.name, c.layers,
           c.filters, c.head);
  GM_CHECK(c.first_kernel % 2 == 1 && c.kernel % 2 == 1,
           "{}: kernel sizes must be odd (the masks need a centre), got {} and {}", c.name,
           c.first_kernel, c.kernel);
  for (auto [what, width] : {std::pair{"filters", c.filters}, std::pair{"head", c.head}})
    GM_CHECK(width % groups == 0,
             "{}: {} = {} cannot be split into {} colour groups (R|G|B); use widths that are "
             "multiples of 3 for colour images",
             c.name, what, width, groups);
}

}  // namespace

Tensor gated_activation(const Tensor& a, int64_t dim, int64_t groups) {
  const Shape& s = a.shape();
  GM_CHECK(dim >= 0 && dim < a.ndim() && s[static_cast<size_t>(dim)] % (2 * groups) == 0,
           "gated activation: dim {} of {} must hold 2p channels, p a multiple of {} groups", dim,
           a.describe(), groups);
  int64_t before = 1, after = 1;
  for (int64_t d = 0; d < a.ndim(); ++d)
    (d < dim ? before : after) *= d == dim ? 1 : s[static_cast<size_t>(d)];
  const int64_t unit = s[static_cast<size_t>(dim)] / (2 * groups);
  const Tensor split = reshape(a, {before, groups, 2, unit, after});
  const Tensor gated = tanh(slice(split, 2, 0, 1)) * sigmoid(slice(split, 2, 1, 2));
  Shape out = s;
  out[static_cast<size_t>(dim)] /= 2;
  return reshape(gated, out);
}

GatedLayer::GatedLayer(int64_t in, int64_t p, int64_t kernel, bool first, int groups,
                       int64_t classes, const nn::Init& init)
    : kernel_(kernel), first_(first), groups_(groups) {
  const int64_t rows = kernel / 2 + 1;
  vertical_weight_ =
      add_parameter("vertical.weight", {2 * p, in, rows, kernel}, in * rows * kernel, init);
  vertical_bias_ = add_parameter("vertical.bias", {2 * p}, in * rows * kernel, init);
  // The full 1 x k kernel, as a PyTorch masked Conv2d(in, 2p, (1, k)) keeps it; the kernel
  // skips the masked right half.
  horizontal_weight_ =
      add_parameter("horizontal.weight", {2 * p, in, 1, kernel}, in * kernel, init);
  horizontal_bias_ = add_parameter("horizontal.bias", {2 * p}, in * kernel, init);
  vertical_to_horizontal_ =
      &add_module<nn::Conv2d>("vertical_to_horizontal", 2 * p, 2 * p, 1, init);
  residual_ = &add_module<nn::MaskedConv2d>("residual", p, p, 1, MaskType::B, groups, init);
  if (classes > 0) {
    vertical_class_ = &add_module<nn::ClassBias>("vertical_class", classes, 2 * p, init);
    horizontal_class_ = &add_module<nn::ClassBias>("horizontal_class", classes, 2 * p, init);
  }
}

GatedLayer::Stacks GatedLayer::operator()(const Stacks& x, const Tensor& onehot,
                                          bool vertical_out) const {
  const int64_t half = kernel_ / 2;
  // Padded k/2 rows on top and none below: output row r sees input rows r - k/2 .. r.
  Tensor a_v = conv2d(pad2d(x.v, half, 0, half, half), vertical_weight_, vertical_bias_);
  if (vertical_class_) a_v = (*vertical_class_)(a_v, onehot);
  // Shifted down a row (row 0 gets zeros), so row r of the horizontal stack only receives
  // rows < r from the vertical one.
  Tensor a_h = masked_conv2d(x.h, horizontal_weight_, horizontal_bias_,
                             first_ ? MaskType::A : MaskType::B, groups_) +
               (*vertical_to_horizontal_)(pad2d(a_v, 1, -1, 0, 0));
  if (horizontal_class_) a_h = (*horizontal_class_)(a_h, onehot);
  Tensor h = (*residual_)(gated_activation(a_h, 1, groups_));
  if (!first_) h = x.h + h;
  return {vertical_out ? gated_activation(a_v, 1, groups_) : Tensor(), h};
}

GatedPixelCnn::GatedPixelCnn(GatedPixelCnnConfig config, ImageShape shape, const nn::Init& init,
                             int64_t classes)
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
  check_widths(config_, groups);
  for (int64_t l = 0; l < config_.layers; ++l)
    layers_.push_back(&add_module<GatedLayer>(
        "layer" + std::to_string(l), l == 0 ? shape.channels : config_.filters, config_.filters,
        l == 0 ? config_.first_kernel : config_.kernel, l == 0, groups, classes, init));
  head1_ = &add_module<nn::MaskedConv2d>("head1", config_.filters, config_.head, 1, MaskType::B,
                                         groups, init);
  head2_ = &add_module<nn::MaskedConv2d>("head2", config_.head, kLevels * shape.channels, 1,
                                         MaskType::B, groups, init);
}

Tensor GatedPixelCnn::network_input(const Tensor& images) const {
  check_image_batch(config_.name, shape_, images);
  return scale_images(images, dtype_, device_);
}

Tensor GatedPixelCnn::logits(const Tensor& x, const Tensor& onehot) const {
  GM_CHECK(onehot.defined() == (classes_ > 0),
           "{}: logits need the labels' one-hot [N, {}] exactly when the model is conditional",
           config_.name, classes_);
  GatedLayer::Stacks s{x, x};
  for (size_t l = 0; l < layers_.size(); ++l)
    s = (*layers_[l])(s, onehot, l + 1 < layers_.size());
  return outputs_by_channel((*head2_)(relu((*head1_)(relu(s.h)))), shape_.channels);
}

LossOutput GatedPixelCnn::loss(const Tensor& images, Generator&) {
  // One upload per step: the network's input and the targets both come from it.
  const Tensor batch = images.to(device_);
  const Tensor onehot =
      class_input(config_.name, Tensor(), images.size(0), classes_, dtype_, device_);
  return categorical_loss(logits(network_input(batch), onehot), batch, shape_, read_loss());
}

LossOutput GatedPixelCnn::loss(const Tensor& images, const Tensor& labels, Generator& gen) {
  if (classes_ == 0) return Model::loss(images, labels, gen);
  const Tensor batch = images.to(device_);
  const Tensor onehot =
      class_input(config_.name, labels, images.size(0), classes_, dtype_, device_);
  return categorical_loss(logits(network_input(batch), onehot), batch, shape_, read_loss());
}

Tensor GatedPixelCnn::sample_naive(int64_t count, double temperature, Generator& gen) {
  GM_CHECK(classes_ == 0, "{}: a class-conditional model samples by label (--label)", config_.name);
  return sample_by_full_passes(*this, count, temperature, gen);
}

Tensor GatedPixelCnn::sample_naive_by_label(const Tensor& labels, double temperature,
                                            Generator& gen) {
  GM_CHECK(classes_ > 0, "{}: the model is not class-conditional: sample it without labels",
           config_.name);
  const int64_t count = labels.defined() ? labels.size(0) : 0;
  const Tensor onehot = class_input(config_.name, labels, count, classes_, dtype_, device_);
  return sample_by_full_passes(*this, count, temperature, gen,
                               [&](const Tensor& x) { return logits(x, onehot); });
}

std::unique_ptr<IncrementalEvaluator> GatedPixelCnn::incremental(int64_t batch) const {
  GM_CHECK(classes_ == 0, "{}: a class-conditional model samples by label (--label)", config_.name);
  return gated_pixelcnn_evaluator(*this, batch, Tensor());
}

std::unique_ptr<IncrementalEvaluator> GatedPixelCnn::incremental_by_label(
    int64_t batch, const Tensor& labels) const {
  GM_CHECK(classes_ > 0, "{}: the model is not class-conditional: sample it without labels",
           config_.name);
  check_labels(config_.name, labels, batch, classes_);
  return gated_pixelcnn_evaluator(*this, batch, labels);
}

std::vector<uint8_t> GatedPixelCnn::draw(const Tensor& output, double temperature,
                                         Generator& gen) const {
  return draw_categorical(output, temperature, gen);
}

}  // namespace gm::models

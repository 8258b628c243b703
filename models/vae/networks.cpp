#include "models/vae/networks.h"

namespace gm::models {

namespace {

// The network's input with the label's one-hot appended to each row when it is conditional.
Tensor with_label(const Tensor& rows, const Tensor& onehot, int64_t classes,
                  std::string_view network) {
  GM_CHECK(onehot.defined() == (classes > 0) && (!onehot.defined() || onehot.size(1) == classes),
           "{}: expected {} one-hot labels, got {}", network,
           classes > 0 ? fmt::format("[N, {}]", classes) : std::string("no"),
           onehot.defined() ? onehot.describe() : std::string("none"));
  return classes > 0 ? concat({rows, onehot}, 1) : rows;
}

void check_unconditional(const Tensor& onehot, std::string_view network) {
  GM_CHECK(!onehot.defined(),
           "{} takes no labels: only the MLP VAE has a class-conditional variant", network);
}

}  // namespace

MlpEncoder::MlpEncoder(const ImageShape& shape, int64_t hidden, int64_t latent,
                       const nn::Init& init, int64_t classes)
    : classes_(classes) {
  hidden_ = &add_module<nn::Linear>("hidden", shape.dims() + classes, hidden, init);
  mu_ = &add_module<nn::Linear>("mu", hidden, latent, init);
  logvar_ = &add_module<nn::Linear>("logvar", hidden, latent, init);
}

GaussianParams MlpEncoder::operator()(const Tensor& x, const Tensor& onehot) const {
  Tensor h =
      relu((*hidden_)(with_label(reshape(x, {x.size(0), -1}), onehot, classes_, "VAE encoder")));
  return {(*mu_)(h), (*logvar_)(h)};
}

MlpDecoder::MlpDecoder(const ImageShape& shape, int64_t hidden, int64_t latent, int64_t planes,
                       const nn::Init& init, int64_t classes)
    : planes_(planes), dims_(shape.dims()), classes_(classes) {
  hidden_ = &add_module<nn::Linear>("hidden", latent + classes, hidden, init);
  out_ = &add_module<nn::Linear>("out", hidden, planes * shape.dims(), init);
}

Tensor MlpDecoder::operator()(const Tensor& z, const Tensor& onehot) const {
  Tensor h = relu((*hidden_)(with_label(z, onehot, classes_, "VAE decoder")));
  return reshape((*out_)(h), {z.size(0), planes_, dims_});
}

namespace {

void check_conv_shape(const ImageShape& s) {
  GM_CHECK(s.height % 4 == 0 && s.width % 4 == 0 && s.height >= 4 && s.width >= 4,
           "convolutional VAE: image height and width must be multiples of 4 (two stride-2 "
           "layers), got {}x{}; use an MLP VAE (vae-ref) for other sizes",
           s.height, s.width);
}

}  // namespace

ConvEncoder::ConvEncoder(const ImageShape& shape, int64_t channels, int64_t latent,
                         const nn::Init& init, bool variance_head) {
  check_conv_shape(shape);
  const int64_t wide = 2 * channels;
  conv1_ = &add_module<nn::Conv2d>("conv1", shape.channels, channels, 4, init, 2, 1);
  conv2_ = &add_module<nn::Conv2d>("conv2", channels, wide, 4, init, 2, 1);
  conv3_ = &add_module<nn::Conv2d>("conv3", wide, wide, 3, init, 1, 1);
  conv4_ = &add_module<nn::Conv2d>("conv4", wide, wide, 3, init, 1, 1);
  const int64_t features = wide * (shape.height / 4) * (shape.width / 4);
  mu_ = &add_module<nn::Linear>("mu", features, latent, init);
  if (variance_head) logvar_ = &add_module<nn::Linear>("logvar", features, latent, init);
}

Tensor ConvEncoder::features(const Tensor& x) const {
  Tensor h = relu((*conv1_)(x));  // H/2
  h = relu((*conv2_)(h));         // H/4
  h = relu((*conv3_)(h));
  h = relu((*conv4_)(h));
  return reshape(h, {x.size(0), -1});
}

GaussianParams ConvEncoder::operator()(const Tensor& x, const Tensor& onehot) const {
  check_unconditional(onehot, "the convolutional VAE encoder");
  GM_CHECK(logvar_ != nullptr,
           "this convolutional encoder has no variance head (an autoencoder's)");
  const Tensor h = features(x);
  return {(*mu_)(h), (*logvar_)(h)};
}

Tensor ConvEncoder::mean(const Tensor& x) const {
  return (*mu_)(features(x));
}

ConvDecoder::ConvDecoder(const ImageShape& shape, int64_t channels, int64_t latent, int64_t planes,
                         const nn::Init& init)
    : shape_(shape), channels_(channels), planes_(planes) {
  check_conv_shape(shape);
  const int64_t wide = 2 * channels;
  project_ = &add_module<nn::Linear>("project", latent,
                                     wide * (shape.height / 4) * (shape.width / 4), init);
  up1_ = &add_module<nn::ConvTranspose2d>("up1", wide, wide, 3, init, 1, 1);
  up2_ = &add_module<nn::ConvTranspose2d>("up2", wide, wide, 3, init, 1, 1);
  up3_ = &add_module<nn::ConvTranspose2d>("up3", wide, channels, 4, init, 2, 1);
  up4_ = &add_module<nn::ConvTranspose2d>("up4", channels, planes * shape.channels, 4, init, 2, 1);
  pixel_bias_ =
      add_parameter("pixel_bias", {planes * shape.channels, shape.height, shape.width}, 1, init);
  pixel_bias_.copy_from(Tensor::zeros(pixel_bias_.shape(), init.dtype, init.device));
}

Tensor ConvDecoder::operator()(const Tensor& z, const Tensor& onehot) const {
  check_unconditional(onehot, "the convolutional VAE decoder");
  const int64_t n = z.size(0);
  Tensor h = relu((*project_)(z));
  h = reshape(h, {n, 2 * channels_, shape_.height / 4, shape_.width / 4});
  h = relu((*up1_)(h));
  h = relu((*up2_)(h));
  h = relu((*up3_)(h));          // H/2
  h = (*up4_)(h) + pixel_bias_;  // [N, P * C, H, W]: plane p is channels [p C, (p + 1) C)
  return reshape(h, {n, planes_, shape_.dims()});
}

}  // namespace gm::models

#include "models/nn.h"

#include <cmath>

#include "models/images.h"

namespace gm::nn {

Tensor dropout(const Tensor& x, double p, Generator& gen) {
  GM_CHECK(p >= 0.0 && p < 1.0, "dropout: the drop probability must be in [0, 1), got {}", p);
  if (p == 0.0) return x;
  const Tensor keep = Tensor::full(x.shape(), 1.0 - p, DType::f64, x.device());
  const Tensor mask = models::bernoulli_draw(keep, gen).to(x.dtype()) * (1.0 / (1.0 - p));
  return x * mask;
}

std::vector<NamedTensor> Module::parameters() const {
  std::vector<NamedTensor> out = params_;
  for (const auto& [name, child] : children_)
    for (const NamedTensor& p : child->parameters())
      out.push_back({name + "." + p.name, p.tensor});
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const NamedTensor& p : parameters())
    n += p.tensor.numel();
  return n;
}

Tensor Module::add_parameter(const std::string& name, const Shape& shape, int64_t fan_in,
                             const Init& init) {
  GM_CHECK(init.gen, "parameter '{}': Init needs a generator (initialisation is seeded)", name);
  const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)));
  Tensor t = Tensor::uniform(shape, -bound, bound, *init.gen, init.dtype, init.device);
  t.set_requires_grad();
  params_.push_back({name, t});
  return t;
}

Linear::Linear(int64_t in, int64_t out, const Init& init, bool bias) {
  weight_ = add_parameter("weight", {out, in}, in, init);
  if (bias) bias_ = add_parameter("bias", {out}, in, init);
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, const Init& init, int64_t stride,
               int64_t padding)
    : stride_(stride), padding_(padding) {
  const int64_t fan_in = in * kernel * kernel;
  weight_ = add_parameter("weight", {out, in, kernel, kernel}, fan_in, init);
  bias_ = add_parameter("bias", {out}, fan_in, init);
}

MaskedConv2d::MaskedConv2d(int64_t in, int64_t out, int64_t kernel, MaskType type,
                           int colour_groups, const Init& init)
    : type_(type), groups_(colour_groups) {
  GM_CHECK(kernel % 2 == 1, "masked convolution needs an odd kernel size, got {}", kernel);
  // PyTorch initialises the full kernel; masked taps are then ignored, so the same fan-in.
  const int64_t fan_in = in * kernel * kernel;
  weight_ = add_parameter("weight", {out, in, kernel, kernel}, fan_in, init);
  bias_ = add_parameter("bias", {out}, fan_in, init);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, const Init& init,
                                 int64_t stride, int64_t padding, int64_t output_padding)
    : stride_(stride), padding_(padding), output_padding_(output_padding) {
  // PyTorch computes fan_in from weight dim 1 (out channels) for transposed convolutions.
  const int64_t fan_in = out * kernel * kernel;
  weight_ = add_parameter("weight", {in, out, kernel, kernel}, fan_in, init);
  bias_ = add_parameter("bias", {out}, fan_in, init);
}

ClassBias::ClassBias(int64_t classes, int64_t channels, const Init& init) {
  table_ = add_parameter("table", {classes, channels}, 1, init);
  table_.copy_from(Tensor::zeros(table_.shape(), init.dtype, init.device));
}

Tensor ClassBias::operator()(const Tensor& h, const Tensor& onehot) const {
  Shape shape(static_cast<size_t>(h.ndim()), 1);
  shape[0] = h.size(0);
  shape[1] = table_.size(1);
  return h + reshape(matmul(onehot, table_), shape);
}

}  // namespace gm::nn

#include "models/images.h"

#include "engine/autograd.h"

namespace gm::models {

Tensor scale_images(const Tensor& images, DType dtype, Device device) {
  GM_CHECK(images.dtype() == DType::u8, "images must be uint8 pixels 0..255, got {}",
           images.describe());
  return images.to(device).to(dtype) * (1.0 / 127.5) - 1.0;
}

Tensor bernoulli_draw(const Tensor& probabilities, Generator& gen) {
  NoGradGuard no_grad;
  // floor(p + u) with u ~ U(0, 1) is 1 exactly when u >= 1 - p: probability p. Computed in
  // float64 where u < 1 strictly, so p = 0 never gives 1 (in float32 u could round up to 1).
  Tensor p = probabilities.to(DType::f64);
  Tensor u = Tensor::uniform(p.shape(), 0.0, 1.0, gen, DType::f64, p.device());
  return (p + u).to(DType::u8);  // the cast truncates: floor for values in [0, 2)
}

Tensor binarize(const Tensor& images, Generator& gen, DType dtype, Device device) {
  GM_CHECK(images.dtype() == DType::u8, "images must be uint8 pixels 0..255, got {}",
           images.describe());
  return bernoulli_draw(images.to(device).to(DType::f64) * (1.0 / 255.0), gen).to(dtype);
}

Tensor clamp_min(const Tensor& x, double low) {
  return relu(x - low) + low;
}

Tensor clamp(const Tensor& x, double low, double high) {
  return -(relu(-clamp_min(x, low) + high)) + high;
}

Tensor to_pixels(const Tensor& scaled) {
  NoGradGuard no_grad;
  Tensor levels = clamp((scaled + 1.0) * 127.5, 0.0, 255.0);
  return (levels + 0.5).to(DType::u8);  // truncation of a non-negative value + 0.5: rounding
}

}  // namespace gm::models

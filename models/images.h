#pragma once
// Pixels into and out of the models. Outside the models images are uint8 [N, C, H, W] with
// 256 levels; networks see them scaled to [-1, 1] (x / 127.5 - 1) or dynamically binarised.
// Everything goes through ops and the Philox generator, so it runs on any device and the same
// generator state gives the same pixels everywhere.
#include "engine/ops.h"
#include "engine/random.h"

namespace gm::models {

// uint8 [..] -> x / 127.5 - 1 in `dtype` on `device` (the 256 levels land on a grid of step
// 2/255 from -1 to 1).
Tensor scale_images(const Tensor& images, DType dtype, Device device);

// Dynamic binarisation: each pixel becomes Bernoulli(x / 255), freshly drawn at every call.
// Returns {0, 1} in `dtype` on `device`.
Tensor binarize(const Tensor& images, Generator& gen, DType dtype, Device device);

// Draws Bernoulli(p) for probabilities p in [0, 1] (any float dtype): uint8 {0, 1}.
Tensor bernoulli_draw(const Tensor& probabilities, Generator& gen);

// Values on the [-1, 1] scale -> the nearest of the 256 levels, clamped: uint8 (no gradient).
Tensor to_pixels(const Tensor& scaled);

// min(max(x, low), high) built from relu, so that it is differentiable almost everywhere on
// every device: the gradient passes inside the range and is zero outside.
Tensor clamp(const Tensor& x, double low, double high);
Tensor clamp_min(const Tensor& x, double low);

}  // namespace gm::models

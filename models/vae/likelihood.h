#pragma once
// The VAE decoder's output distribution p(x|z), one factor per pixel and channel, given P
// parameter planes per pixel (decoder output [N, P, D], D = C * H * W). Three choices
// (docs/vae.md):
//   logistic  - discretized logistic over the 256 levels on the [-1, 1] scale: a proper
//               distribution over 8-bit images, so its NLL is comparable with PixelCNN's;
//   bernoulli - one logit per pixel, for dynamically binarised images;
//   gaussian  - N(mean, exp(log-variance)) on the [-1, 1] scale, a continuous density. Its
//               density is not a probability, so it is trained and evaluated on dequantised
//               pixels (x plus uniform noise across the pixel's bin, width 2/255) and reported
//               as -log p(x + u) + D log(127.5): by Jensen an upper bound on the NLL of the
//               discrete model that gives each 8-bit image the mass of its bin.
#include <string>

#include "engine/ops.h"
#include "engine/random.h"

namespace gm::models {

enum class Likelihood { logistic, bernoulli, gaussian };
std::string likelihood_name(Likelihood l);

// Lower bounds keep the scales away from zero: log-scale >= -7 (docs/reference-models.md) and the
// Gaussian's log-variance >= -14 (the same standard deviation, e^-7).
inline constexpr double kMinLogScale = -7.0;
inline constexpr double kMinLogVariance = -14.0;

int64_t likelihood_planes(Likelihood l);  // P: 2, 1, 2

// What the likelihood scores, from uint8 images [N, C, H, W] -> [N, D] in `dtype`:
// logistic: x / 127.5 - 1; bernoulli: a fresh binarisation in {0, 1}; gaussian: x / 127.5 - 1
// plus uniform dequantisation noise in [-1/255, 1/255).
Tensor likelihood_target(Likelihood l, const Tensor& images, Generator& gen, DType dtype,
                         Device device);
// The encoder's view of the same target on the [-1, 1] scale (binary pixels as -1 and 1).
Tensor likelihood_target_scaled(Likelihood l, const Tensor& target);

// -log p(target | params) per image: [N, P, D], [N, D] -> [N] nats (see the header comment
// for the Gaussian's dequantisation correction). `target` is what likelihood_target made (the
// logistic's is taken to be on the pixel grid without reading it back).
Tensor likelihood_nll(Likelihood l, const Tensor& params, const Tensor& target);
// The distribution's mean on the [-1, 1] scale, [N, D] (bernoulli: 2 sigmoid(logit) - 1).
Tensor likelihood_mean(Likelihood l, const Tensor& params);
// One draw per pixel as uint8 levels [N, D] (bernoulli: 0 or 255). `temperature` T scales the
// pixel noise as sampling temperature does in every family: the logistic's scale and the
// Gaussian's standard deviation are multiplied by T, the Bernoulli logit divided by T (the
// softmax temperature of two classes). T -> 0 draws the most likely level, T = 1 the model.
Tensor likelihood_sample(Likelihood l, const Tensor& params, Generator& gen,
                         double temperature = 1.0);

}  // namespace gm::models

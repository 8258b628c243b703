#pragma once
// PixelCNN++'s output distribution (Salimans et al. 2017): per pixel, a mixture of K
// discretized logistics over the 256 levels of each channel on the [-1, 1] scale,
//   p(x) = sum_k pi_k prod_c P_logistic(bin of x_c | m_kc, s_kc),   pi = softmax(logits),
// where the colour channels of one pixel depend on each other linearly inside a component:
//   m_kR = mu_kR,   m_kG = mu_kG + alpha_k x_R,   m_kB = mu_kB + beta_k x_R + gamma_k x_G,
// with alpha, beta, gamma = tanh(raw coefficients). Each factor is the discretized logistic of
// kernels/common/logistic_math.h (bin half-width 1/255, end bins taking the tails, accurate for
// tiny probabilities without the paper's mid-bin switch). docs/pixelcnnpp.md has the math.
//
// The network's output per pixel has P = mixture_planes(K, C) planes, component-major so that
// each group reshapes to [K, C] without a copy:
//   [0, K)                   the mixture logits
//   [K + k C + c]            mu_kc
//   [K + K C + k C + c]      log s_kc
//   [K + 2 K C + 3 k + j]    raw coefficient j of component k (RGB only: alpha, beta, gamma)
#include "engine/ops.h"
#include "engine/random.h"

namespace gm::models {

// 3K planes for grey, 10K for RGB.
int64_t mixture_planes(int64_t components, int64_t channels);

// Every component's per-channel distribution given the image x [N, C, H, W] (its values enter
// the coupled means of later channels).
struct MixtureParams {
  Tensor logits;      // [N, K, H, W]
  Tensor means;       // [N, K, C, H, W], the linear terms in x's earlier channels included
  Tensor log_scales;  // [N, K, C, H, W], clamped below at kMinLogScale
};
// out [N, P, H, W] from the network, x [N, C, H, W] on the [-1, 1] grid.
MixtureParams mixture_params(const Tensor& out, const Tensor& x, int64_t components);

// -log p(x) summed over pixels: [N] nats. `grid` as discretized_logistic_nll's: the model passes
// PixelGrid::from_uint8 for its scale_images target, which is then not read back.
Tensor mixture_nll(const MixtureParams& p, const Tensor& x, PixelGrid grid = PixelGrid::check);

// One draw per image from the mixture at one pixel: out [N, P] -> uint8 [N, C] pixel values.
// Temperature T divides the mixture logits (a colder choice of component) and multiplies every
// logistic's scale (a narrower draw within it); T = 1 samples the model exactly. Channels are
// drawn in order R, G, B, each later mean using the earlier channels' drawn levels. Uses `gen`
// for the component (one uniform per image) and for the logistic draws (C per image).
Tensor mixture_sample(const Tensor& out, int64_t components, int64_t channels, double temperature,
                      Generator& gen);

}  // namespace gm::models

#include "models/pixelcnnpp/logistic_mixture.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "models/images.h"
#include "models/vae/likelihood.h"

namespace gm::models {

namespace {

// Planes [first, first + count * inner) of out [N, P, H, W] as [N, count, inner, H, W].
Tensor planes(const Tensor& out, int64_t first, int64_t count, int64_t inner) {
  const Tensor s = slice(out, 1, first, first + count * inner);
  return reshape(s, {out.size(0), count, inner, out.size(2), out.size(3)});
}

// sum over s of log sum_k exp(z[n, k, s]) for z [N, K, S] -> [N]. The fused log-softmax of
// softmax_cross_entropy gives CE(z, target 0) = sum_s (lse_s(z) - z[n, 0, s]), so adding back
// sum_s z[n, 0, s] leaves the log-sum-exp, computed stably (the maximum is subtracted inside).
Tensor logsumexp_sum(const Tensor& z) {
  const Tensor first = Tensor::zeros({z.size(0), z.size(2)}, DType::i32, z.device());
  return softmax_cross_entropy(z, first) + sum(slice(z, 1, 0, 1), {1, 2});
}

}  // namespace

int64_t mixture_planes(int64_t components, int64_t channels) {
  GM_CHECK(components >= 1, "logistic mixture: needs at least one component, got {}", components);
  GM_CHECK(channels == 1 || channels == 3,
           "logistic mixture: images must have 1 (grey) or 3 (RGB) channels, got {}", channels);
  return channels == 1 ? 3 * components : 10 * components;
}

MixtureParams mixture_params(const Tensor& out, const Tensor& x, int64_t components) {
  const int64_t K = components, C = x.ndim() == 4 ? x.size(1) : 0;
  GM_CHECK(x.ndim() == 4 && out.ndim() == 4 && out.size(0) == x.size(0) &&
               out.size(1) == mixture_planes(K, C) && out.size(2) == x.size(2) &&
               out.size(3) == x.size(3),
           "logistic mixture of {} components: expected network output [N, {}, H, W] for the "
           "image x [N, C, H, W], got output {} and x {}",
           K, C == 1 || C == 3 ? mixture_planes(K, C) : 0, out.describe(), x.describe());
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  MixtureParams p;
  p.logits = slice(out, 1, 0, K);
  Tensor mu = planes(out, K, K, C);
  p.log_scales = clamp_min(planes(out, K + K * C, K, C), kMinLogScale);
  if (C == 1) {
    p.means = mu;
    return p;
  }
  // x's channels as [N, 1, 1, H, W], broadcasting over the components.
  auto channel = [&](const Tensor& t, int64_t c) { return slice(t, 2, c, c + 1); };
  const Tensor x5 = reshape(x, {N, 1, C, H, W});
  const Tensor coeff = tanh(planes(out, K + 2 * K * C, K, 3));
  const Tensor red = channel(mu, 0);
  const Tensor green = channel(mu, 1) + channel(coeff, 0) * channel(x5, 0);
  const Tensor blue =
      channel(mu, 2) + channel(coeff, 1) * channel(x5, 0) + channel(coeff, 2) * channel(x5, 1);
  p.means = concat({red, green, blue}, 2);
  return p;
}

Tensor mixture_nll(const MixtureParams& p, const Tensor& x, PixelGrid grid) {
  const Shape& s = p.means.shape();  // [N, K, C, H, W]
  const int64_t N = s[0], K = s[1], C = s[2], pixels = s[3] * s[4];
  const int64_t rows = shape_numel(s);
  // log P(bin of x_c | component k) for every (n, k, c, pixel): one row of one value each.
  const Tensor xs = broadcast_to(reshape(x, {N, 1, C, s[3], s[4]}), s);
  const Tensor logp = -discretized_logistic_nll(reshape(xs, {rows, 1}), reshape(p.means, {rows, 1}),
                                                reshape(p.log_scales, {rows, 1}), grid);
  // Channels of one component multiply: sum their log-probabilities.
  const Tensor component = sum(reshape(logp, {N, K, C, pixels}), {2});
  const Tensor logits = reshape(p.logits, {N, K, pixels});
  // -log sum_k softmax(logits)_k p_k = lse(logits) - lse(logits + log p_k), per pixel.
  return logsumexp_sum(logits) - logsumexp_sum(logits + component);
}

Tensor mixture_sample(const Tensor& out, int64_t components, int64_t channels, double temperature,
                      Generator& gen) {
  const int64_t K = components, C = channels;
  GM_CHECK(out.ndim() == 2 && out.size(1) == mixture_planes(K, C),
           "logistic mixture sample: expected one pixel's network output [N, {}], got {}",
           mixture_planes(K, C), out.describe());
  GM_CHECK(temperature > 0.0 && std::isfinite(temperature),
           "logistic mixture sample: temperature must be positive and finite, got {}", temperature);
  NoGradGuard no_grad;
  const int64_t N = out.size(0), P = out.size(1);
  const std::vector<int32_t> chosen =
      sample_categorical(slice(out, 1, 0, K), temperature, gen).to_vector<int32_t>();
  const std::vector<double> u =
      Tensor::uniform({N, C}, 0.0, 1.0, gen, DType::f64).to_vector<double>();
  const std::vector<double> params = out.to_vector<double>();
  std::vector<uint8_t> pixels(static_cast<size_t>(N * C));
  for (int64_t n = 0; n < N; ++n) {
    const int64_t k = chosen[static_cast<size_t>(n)];
    auto at = [&](int64_t plane) { return params[static_cast<size_t>(n * P + plane)]; };
    double drawn[3] = {0.0, 0.0, 0.0};  // earlier channels' levels on the [-1, 1] scale
    for (int64_t c = 0; c < C; ++c) {
      double mean = at(K + k * C + c);
      if (c == 1) mean += std::tanh(at(K + 2 * K * C + 3 * k)) * drawn[0];
      if (c == 2)
        mean += std::tanh(at(K + 2 * K * C + 3 * k + 1)) * drawn[0] +
                std::tanh(at(K + 2 * K * C + 3 * k + 2)) * drawn[1];
      const double scale = std::exp(std::max(at(K + K * C + k * C + c), kMinLogScale));
      // Inverse CDF of the logistic, then the nearest level: the end bins take the tails,
      // exactly as the likelihood counts them.
      const double v = u[static_cast<size_t>(n * C + c)];
      const double value = mean + temperature * scale * (std::log(v) - std::log1p(-v));
      const double level = std::clamp(std::round((value + 1.0) * 127.5), 0.0, 255.0);
      pixels[static_cast<size_t>(n * C + c)] = static_cast<uint8_t>(level);
      drawn[c] = level / 127.5 - 1.0;
    }
  }
  return Tensor::from_vector(pixels, {N, C}, DType::u8);
}

}  // namespace gm::models

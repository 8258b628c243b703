#include "models/pixelcnnpp/pixelcnnpp.h"

#include "engine/autograd.h"
#include "models/images.h"
#include "models/pixelcnnpp/logistic_mixture.h"
#include "models/sampling_checks.h"

namespace gm::models {

using pixelcnnpp::GatedResnet;
using pixelcnnpp::Shift;
using pixelcnnpp::ShiftedConv2d;
using pixelcnnpp::ShiftedDeconv2d;

PixelCnnPP::PixelCnnPP(PixelCnnPPConfig config, ImageShape shape, const nn::Init& init)
    : config_(std::move(config)), shape_(shape), device_(init.device), dtype_(init.dtype) {
  const PixelCnnPPConfig& c = config_;
  GM_CHECK(c.scales >= 1 && c.blocks >= 1 && c.filters >= 1,
           "{}: scales ({}), blocks ({}) and filters ({}) must be positive", c.name, c.scales,
           c.blocks, c.filters);
  const int64_t factor = int64_t{1} << (c.scales - 1);
  GM_CHECK(shape.height % factor == 0 && shape.width % factor == 0,
           "{}: {} resolutions halve the image {} times, so its height and width must be "
           "multiples of {}, got {}x{}; pad or crop the images, or use fewer scales",
           c.name, c.scales, c.scales - 1, factor, shape.height, shape.width);
  const int64_t F = c.filters, planes = mixture_planes(c.components, shape.channels);
  // The input gets a channel of ones, so the first layers can tell zero padding from pixels.
  const int64_t in = shape.channels + 1;
  u_first_ = &add_module<ShiftedConv2d>("input_u", in, F, 2, 3, Shift::down, init);
  ul_first_up_ = &add_module<ShiftedConv2d>("input_ul_up", in, F, 1, 3, Shift::down, init);
  ul_first_left_ =
      &add_module<ShiftedConv2d>("input_ul_left", in, F, 2, 1, Shift::down_right, init);
  const double p = c.dropout;
  for (int64_t s = 0; s < c.scales; ++s) {
    const std::string at = "down" + std::to_string(s);
    Stage& stage = down_.emplace_back();
    for (int64_t b = 0; b < c.blocks; ++b) {
      const std::string k = std::to_string(b);
      stage.u.push_back(&add_module<GatedResnet>(at + "_u" + k, F, 0, Shift::down, p, init));
      stage.ul.push_back(
          &add_module<GatedResnet>(at + "_ul" + k, F, F, Shift::down_right, p, init));
    }
    if (s + 1 == c.scales) break;
    u_downsample_.push_back(
        &add_module<ShiftedConv2d>(at + "_to_half_u", F, F, 2, 3, Shift::down, init, 2));
    ul_downsample_.push_back(
        &add_module<ShiftedConv2d>(at + "_to_half_ul", F, F, 2, 2, Shift::down_right, init, 2));
  }
  // Up stage s starts at the smallest resolution. Each block takes one short-cut from the
  // blocks on the way down: stage 0 the blocks' outputs, later stages also the downsampled map.
  for (int64_t s = 0; s < c.scales; ++s) {
    const std::string at = "up" + std::to_string(s);
    Stage& stage = up_.emplace_back();
    for (int64_t b = 0; b < c.blocks + (s > 0 ? 1 : 0); ++b) {
      const std::string k = std::to_string(b);
      stage.u.push_back(&add_module<GatedResnet>(at + "_u" + k, F, F, Shift::down, p, init));
      stage.ul.push_back(
          &add_module<GatedResnet>(at + "_ul" + k, F, 2 * F, Shift::down_right, p, init));
    }
    if (s + 1 == c.scales) break;
    u_upsample_.push_back(
        &add_module<ShiftedDeconv2d>(at + "_to_double_u", F, F, 2, 3, Shift::down, init));
    ul_upsample_.push_back(
        &add_module<ShiftedDeconv2d>(at + "_to_double_ul", F, F, 2, 2, Shift::down_right, init));
  }
  head_ = &add_module<nn::Conv2d>("head", F, planes, 1, init);
}

Tensor PixelCnnPP::network(const Tensor& x, Generator* dropout_gen) const {
  const Tensor ones = Tensor::ones({x.size(0), 1, x.size(2), x.size(3)}, x.dtype(), x.device());
  const Tensor in = concat({x, ones}, 1);
  // u: everything above (a 2x3 kernel shifted down a row); ul: above and to the left (a 1x3
  // kernel on the row above plus a 2x1 kernel on the column to the left).
  std::vector<Tensor> us{pixelcnnpp::down_shift((*u_first_)(in))};
  std::vector<Tensor> uls{pixelcnnpp::down_shift((*ul_first_up_)(in)) +
                          pixelcnnpp::right_shift((*ul_first_left_)(in))};
  const Tensor none;
  for (size_t s = 0; s < down_.size(); ++s) {
    for (size_t b = 0; b < down_[s].u.size(); ++b) {
      us.push_back((*down_[s].u[b])(us.back(), none, dropout_gen));
      uls.push_back((*down_[s].ul[b])(uls.back(), us.back(), dropout_gen));
    }
    if (s < u_downsample_.size()) {
      us.push_back((*u_downsample_[s])(us.back()));
      uls.push_back((*ul_downsample_[s])(uls.back()));
    }
  }
  auto pop = [](std::vector<Tensor>& stack) {
    Tensor t = stack.back();
    stack.pop_back();
    return t;
  };
  Tensor u = pop(us), ul = pop(uls);
  for (size_t s = 0; s < up_.size(); ++s) {
    for (size_t b = 0; b < up_[s].u.size(); ++b) {
      u = (*up_[s].u[b])(u, pop(us), dropout_gen);
      ul = (*up_[s].ul[b])(ul, concat({u, pop(uls)}, 1), dropout_gen);
    }
    if (s < u_upsample_.size()) {
      u = (*u_upsample_[s])(u);
      ul = (*ul_upsample_[s])(ul);
    }
  }
  GM_CHECK(us.empty() && uls.empty(), "{}: {} short-cuts left unused", config_.name,
           us.size() + uls.size());
  return (*head_)(elu(ul));
}

Tensor PixelCnnPP::channel_params(const Tensor& x) const {
  const MixtureParams p = mixture_params(network(x, nullptr), x, config_.components);
  const Shape& s = p.means.shape();
  const Tensor logits = broadcast_to(reshape(p.logits, {s[0], s[1], 1, s[3], s[4]}), s);
  return concat({logits, p.means, p.log_scales}, 1);
}

LossOutput PixelCnnPP::loss(const Tensor& images, Generator& gen) {
  check_image_batch(config_.name, shape_, images);
  const bool drop = grad_mode_enabled();  // training (see PixelCnnPPConfig::dropout)
  const Tensor x = scale_images(images, dtype_, device_);
  const Tensor out = network(x, drop ? &gen : nullptr);
  // x is scale_images of uint8 pixels: on the grid, so it is not read back to be checked.
  return loss_from_nll(
      mixture_nll(mixture_params(out, x, config_.components), x, PixelGrid::from_uint8), shape_,
      read_loss());
}

Tensor PixelCnnPP::sample_naive(int64_t count, double temperature, Generator& gen) {
  const ImageShape& s = shape_;
  const int64_t planes = mixture_planes(config_.components, s.channels);
  // One draw per pixel: the network's planes as [N, P, 1, H, W].
  return sample_by_full_passes(*this, count, temperature, gen, [&](const Tensor& x) {
    return reshape(network(x, nullptr), {x.size(0), planes, 1, s.height, s.width});
  });
}

std::unique_ptr<IncrementalEvaluator> PixelCnnPP::incremental(int64_t batch) const {
  return pixelcnnpp_evaluator(*this, batch);
}

std::vector<uint8_t> PixelCnnPP::draw(const Tensor& output, double temperature,
                                      Generator& gen) const {
  return mixture_sample(output, config_.components, shape_.channels, temperature, gen)
      .to_vector<uint8_t>();
}

}  // namespace gm::models

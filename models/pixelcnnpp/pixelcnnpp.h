#pragma once
// PixelCNN++ (Salimans et al. 2017), the essentials: a discretized logistic mixture likelihood
// (models/pixelcnnpp/logistic_mixture.h), two causal streams without a blind spot
// (models/pixelcnnpp/layers.h), gated residual blocks with dropout, and a U-Net-like
// multi-scale structure: strided convolutions halve the resolution `scales - 1` times on the
// way down, transposed convolutions double it on the way up, and every block on the way up
// receives the output of its mirror block on the way down (the short-cut connections).
// Left out: weight normalisation and Polyak averaging of the paper. docs/pixelcnnpp.md.
//
// Sampling draws a whole pixel at a time (the mixture couples its channels): the naive
// sampler runs the network once per pixel, the fast one (models/pixelcnnpp/fast_sampler.cpp)
// evaluates every layer at the positions the next pixel needs, from caches per resolution.
#include <memory>
#include <vector>

#include "models/autoregressive_model.h"
#include "models/pixelcnnpp/layers.h"

namespace gm::models {

template <typename T>
class PixelCnnPPEvaluator;

struct PixelCnnPPConfig {
  std::string name = "pixelcnnpp";
  int64_t filters = 160;    // channels of both streams at every resolution
  int64_t blocks = 5;       // gated resnet blocks per resolution on the way down
  int64_t scales = 3;       // resolutions: H, H/2, H/4
  int64_t components = 10;  // logistics in the mixture
  double dropout = 0.5;     // inside every gated block, while training
};

class PixelCnnPP : public AutoregressiveModel {
 public:
  PixelCnnPP(PixelCnnPPConfig config, ImageShape shape, const nn::Init& init);

  std::string config_name() const override { return config_.name; }
  ImageShape image_shape() const override { return shape_; }
  const PixelCnnPPConfig& config() const { return config_; }

  // x [N, C, H, W] on the [-1, 1] scale -> the mixture's parameters [N, P, H, W] at every
  // pixel, from earlier pixels only. `dropout_gen` null: no dropout.
  Tensor network(const Tensor& x, Generator* dropout_gen) const;
  // Every channel's distribution as [N, 3K, C, H, W] (K logits, K coupled means, K log
  // scales): what the autoregressive probe differentiates. Channel c's coupled means see x's
  // channels before c at the same pixel, nothing else of it.
  Tensor channel_params(const Tensor& x) const;
  Tensor logits(const Tensor& x) const override { return channel_params(x); }

  LossOutput loss(const Tensor& images, Generator& gen) override;
  // Pixel by pixel, one network pass per pixel (the mixture draws all channels of a pixel).
  Tensor sample_naive(int64_t count, double temperature, Generator& gen) override;
  std::unique_ptr<IncrementalEvaluator> incremental(int64_t batch) const override;
  // One pixel of each image from the mixture's parameters [B, P] (mixture_sample): [B, C].
  std::vector<uint8_t> draw(const Tensor& output, double temperature,
                            Generator& gen) const override;
  bool draws_whole_pixels() const override { return true; }

 private:
  template <typename T>
  friend class PixelCnnPPEvaluator;  // the fast sampler evaluates these layers per position

  struct Stage {  // the blocks of one resolution
    std::vector<pixelcnnpp::GatedResnet*> u, ul;
  };

  PixelCnnPPConfig config_;
  ImageShape shape_;
  Device device_;
  DType dtype_;
  pixelcnnpp::ShiftedConv2d* u_first_ = nullptr;
  pixelcnnpp::ShiftedConv2d* ul_first_up_ = nullptr;
  pixelcnnpp::ShiftedConv2d* ul_first_left_ = nullptr;
  std::vector<Stage> down_, up_;
  std::vector<pixelcnnpp::ShiftedConv2d*> u_downsample_, ul_downsample_;
  std::vector<pixelcnnpp::ShiftedDeconv2d*> u_upsample_, ul_upsample_;
  nn::Conv2d* head_ = nullptr;
};

// Fast sampling (models/pixelcnnpp/fast_sampler.cpp): PixelCnnPP::incremental.
std::unique_ptr<IncrementalEvaluator> pixelcnnpp_evaluator(const PixelCnnPP& model, int64_t batch);

}  // namespace gm::models

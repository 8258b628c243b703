#pragma once
// PixelCNN (van den Oord et al. 2016): the chain rule p(x) = prod_t p(x_t | x_<t) computed by
// masked convolutions. A type-A 7x7 mask hides the current pixel from the first layer; type-B
// 3x3 masks in residual blocks let later layers see their own position (which by then only
// carries information about earlier pixels); a 1x1 head gives 256 logits per pixel and channel.
// With colour, every layer splits its channels into R|G|B groups so that R sees only earlier
// pixels, G also this pixel's R, and B this pixel's R and G (docs/pixelcnn.md).
// Built with K classes it models p(x | y): every layer adds a learned per-class bias
// (nn::ClassBias), as in the conditional PixelCNN.
#include <memory>
#include <vector>

#include "models/autoregressive_model.h"

namespace gm::models {

template <typename T>
class PixelCnnEvaluator;

struct PixelCnnConfig {
  std::string name = "pixelcnn-ref";
  int64_t filters = 64;      // channels between blocks (the residual stream)
  int64_t hidden = 32;       // channels inside a residual block
  int64_t blocks = 5;        // residual blocks
  int64_t first_kernel = 7;  // the type-A layer
  int64_t block_kernel = 3;  // each block's type-B layer
  int64_t head = 64;         // the 1x1 head's hidden width
  bool binary = false;       // Bernoulli output on dynamically binarised input (the -bin variants)
};

// y = x + Conv1x1(ReLU(MaskB kxk(ReLU(Conv1x1(ReLU(x))))))   (the 1x1s are colour-masked too)
class PixelCnnBlock : public nn::Module {
 public:
  PixelCnnBlock(const PixelCnnConfig& c, int colour_groups, int64_t classes, const nn::Init& init);
  Tensor operator()(const Tensor& x, const Tensor& onehot) const;

 private:
  template <typename T>
  friend class PixelCnnEvaluator;  // the fast sampler rebuilds these layers per position
  nn::MaskedConv2d* reduce_ = nullptr;
  nn::MaskedConv2d* masked_ = nullptr;
  nn::MaskedConv2d* expand_ = nullptr;
  // Conditional models only (else null): each layer's per-class bias.
  nn::ClassBias *reduce_class_ = nullptr, *masked_class_ = nullptr, *expand_class_ = nullptr;
};

class PixelCnn : public AutoregressiveModel {
 public:
  // classes = 0: p(x); classes = K >= 2: p(x | y) with a per-class bias in every layer.
  PixelCnn(PixelCnnConfig config, ImageShape shape, const nn::Init& init, int64_t classes = 0);

  std::string config_name() const override { return config_.name; }
  ImageShape image_shape() const override { return shape_; }
  int64_t num_classes() const override { return classes_; }
  const PixelCnnConfig& config() const { return config_; }
  int64_t values() const { return config_.binary ? 1 : 256; }  // logits per pixel and channel

  // What the network sees: x / 127.5 - 1, or a fresh binarisation mapped to {-1, 1}.
  Tensor network_input(const Tensor& images, Generator& gen) const;
  // Network input [N, C, H, W] -> logits [N, V, C, H, W], V = values(). Channel c's V logits
  // come from output group c of the last layer. A conditional model also takes the labels as
  // onehot [N, K] (models/labels.h); an unconditional one an undefined tensor.
  Tensor logits(const Tensor& x) const override { return logits(x, Tensor()); }
  Tensor logits(const Tensor& x, const Tensor& onehot) const;

  // nats/image = sum over pixels and channels of -log p(x_t | x_<t), averaged over the batch.
  LossOutput loss(const Tensor& images, Generator& gen) override;
  LossOutput loss(const Tensor& images, const Tensor& labels, Generator& gen) override;
  // Pixel by pixel, channel by channel: one full network pass per step (H * W * C passes).
  Tensor sample_naive(int64_t count, double temperature, Generator& gen) override;
  // The same for a conditional model, with each image's label.
  Tensor sample_naive_by_label(const Tensor& labels, double temperature, Generator& gen) override;
  std::unique_ptr<IncrementalEvaluator> incremental(int64_t batch) const override;
  std::unique_ptr<IncrementalEvaluator> incremental_by_label(int64_t batch,
                                                             const Tensor& labels) const override;
  // softmax(logits / T) over the 256 levels, or Bernoulli(sigmoid(logit / T)) -> {0, 255}.
  std::vector<uint8_t> draw(const Tensor& output, double temperature,
                            Generator& gen) const override;

 private:
  template <typename T>
  friend class PixelCnnEvaluator;
  // onehot: [N, K] for a conditional model, undefined otherwise.
  LossOutput loss_given(const Tensor& images, const Tensor& onehot, Generator& gen);
  // The labels checked and one-hot encoded on the model's device (undefined when unconditional).
  Tensor label_input(const Tensor& labels, int64_t count) const;

  PixelCnnConfig config_;
  ImageShape shape_;
  Device device_;
  DType dtype_;
  int64_t classes_;
  nn::MaskedConv2d* first_ = nullptr;
  std::vector<PixelCnnBlock*> blocks_;
  nn::MaskedConv2d* head1_ = nullptr;
  nn::MaskedConv2d* head2_ = nullptr;
  nn::ClassBias *first_class_ = nullptr, *head1_class_ = nullptr, *head2_class_ = nullptr;
};

}  // namespace gm::models

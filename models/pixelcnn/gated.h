#pragma once
// Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
// Decoders"): PixelCNN without the blind spot, with gated activations.
//
// Two stacks run side by side. The vertical stack sees every pixel of the rows above and the
// current row, through (k/2 + 1) x k kernels on an input padded k/2 rows on top: its output
// at row r covers a growing window of rows <= r and no blind spot. The horizontal stack sees
// the current row left of the pixel, through 1 x k masked kernels (type A first, B after). The
// vertical stack feeds the horizontal one through a 1x1 convolution after shifting it down a
// row, so the horizontal stack at row r only receives rows < r from it: together the two
// cover everything above and everything to the left, which a stack of k x k masks cannot
// (docs/pixelcnn.md pictures both receptive fields).
//
//   a_v = Conv(v)                               (k/2+1) x k, 2p channels, [f | g] per group
//   v'  = tanh(a_v,f) * sigmoid(a_v,g)
//   a_h = MaskConv(h) + Conv1x1(shift_down(a_v))     1 x k masked, 2p channels
//   h'  = h + Conv1x1(tanh(a_h,f) * sigmoid(a_h,g))  (no residual in the first layer)
//   logits = Conv1x1(ReLU(Conv1x1(ReLU(h_L))))     256 per pixel and channel
//
// Colour: the horizontal stack's masks split its channels into R|G|B groups as PixelCNN's do,
// and the 2p gate channels are laid out (group, f|g, unit) so that each tanh * sigmoid pair
// stays inside one colour group. The vertical stack needs no colour masks: everything it
// hands over comes from rows above.
//
// Built with K classes it models p(x | y), as the paper's conditional model does: a learned
// per-class bias V^T y (nn::ClassBias) is added to a_v and to a_h in every layer, so every gate
// of both stacks knows the class.
#include <memory>
#include <vector>

#include "models/autoregressive_model.h"

namespace gm::models {

template <typename T>
class GatedPixelCnnEvaluator;

struct GatedPixelCnnConfig {
  std::string name = "gated-pixelcnn";
  int64_t filters = 24;      // p: channels of each stack
  int64_t layers = 6;        // gated layers, the first included
  int64_t first_kernel = 7;  // the first layer's k (its horizontal mask is type A)
  int64_t kernel = 3;        // k of the other layers
  int64_t head = 66;         // the 1x1 head's hidden width
};

// tanh(f) * sigmoid(g) of pre-activations whose dim `dim` holds 2p channels laid out
// (group, f|g, unit): [..., 2p, ...] -> [..., p, ...].
Tensor gated_activation(const Tensor& a, int64_t dim, int64_t groups);

class GatedLayer : public nn::Module {
 public:
  // classes = 0: unconditional; K: a per-class bias on a_v and on a_h.
  GatedLayer(int64_t in, int64_t p, int64_t kernel, bool first, int groups, int64_t classes,
             const nn::Init& init);
  struct Stacks {
    Tensor v, h;
  };
  // The vertical and horizontal stacks [N, in, H, W] -> [N, p, H, W]. `vertical_out`: whether
  // the next layer needs v' (the last layer's is unused). onehot [N, K] for a conditional
  // layer, undefined otherwise.
  Stacks operator()(const Stacks& x, const Tensor& onehot, bool vertical_out) const;

 private:
  template <typename T>
  friend class GatedPixelCnnEvaluator;  // the fast sampler rebuilds the layer per position
  int64_t kernel_;
  bool first_;
  int groups_;
  Tensor vertical_weight_, vertical_bias_;      // [2p, in, k/2 + 1, k]
  Tensor horizontal_weight_, horizontal_bias_;  // [2p, in, 1, k], right half masked
  nn::Conv2d* vertical_to_horizontal_ = nullptr;
  nn::MaskedConv2d* residual_ = nullptr;
  // Conditional layers only (else null).
  nn::ClassBias *vertical_class_ = nullptr, *horizontal_class_ = nullptr;
};

class GatedPixelCnn : public AutoregressiveModel {
 public:
  // classes = 0: p(x); classes = K >= 2: p(x | y) (a per-class bias in every gate).
  GatedPixelCnn(GatedPixelCnnConfig config, ImageShape shape, const nn::Init& init,
                int64_t classes = 0);

  std::string config_name() const override { return config_.name; }
  ImageShape image_shape() const override { return shape_; }
  int64_t num_classes() const override { return classes_; }
  const GatedPixelCnnConfig& config() const { return config_; }

  Tensor network_input(const Tensor& images) const;  // x / 127.5 - 1
  // Network input [N, C, H, W] -> logits [N, 256, C, H, W]; a conditional model also takes
  // the labels as onehot [N, K].
  Tensor logits(const Tensor& x) const override { return logits(x, Tensor()); }
  Tensor logits(const Tensor& x, const Tensor& onehot) const;
  LossOutput loss(const Tensor& images, Generator& gen) override;
  LossOutput loss(const Tensor& images, const Tensor& labels, Generator& gen) override;
  Tensor sample_naive(int64_t count, double temperature, Generator& gen) override;
  Tensor sample_naive_by_label(const Tensor& labels, double temperature, Generator& gen) override;
  std::unique_ptr<IncrementalEvaluator> incremental(int64_t batch) const override;
  std::unique_ptr<IncrementalEvaluator> incremental_by_label(int64_t batch,
                                                             const Tensor& labels) const override;
  std::vector<uint8_t> draw(const Tensor& output, double temperature,
                            Generator& gen) const override;

 private:
  template <typename T>
  friend class GatedPixelCnnEvaluator;
  GatedPixelCnnConfig config_;
  ImageShape shape_;
  Device device_;
  DType dtype_;
  int64_t classes_;
  std::vector<GatedLayer*> layers_;
  nn::MaskedConv2d* head1_ = nullptr;
  nn::MaskedConv2d* head2_ = nullptr;
};

// Fast sampling (models/pixelcnn/gated_sampler.cpp): GatedPixelCnn::incremental; labels int32
// [batch] for a conditional model, undefined otherwise.
std::unique_ptr<IncrementalEvaluator> gated_pixelcnn_evaluator(const GatedPixelCnn& model,
                                                               int64_t batch, const Tensor& labels);

}  // namespace gm::models

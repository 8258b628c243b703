#pragma once
// PixelRNN (van den Oord et al., 2016): an autoregressive model of images,
//   p(x) = prod_i p(x_i | x_1 .. x_{i-1}),  pixels in raster order, colours R, G, B within a
// pixel, each factor a softmax over the 256 intensities.
//
//   x = images / 127.5 - 1
//   MaskA k x k conv  C_img -> C          (sees only pixels strictly before the current one)
//   layers x (Row LSTM | Diagonal BiLSTM) layer, h hidden units, residual
//   ReLU -> Conv1x1 C -> head -> ReLU -> Conv1x1 head -> 256 C_img     logits
//   loss = mean over the batch of -sum_i log p(x_i | x_<i)     (nats per image)
#include <memory>
#include <vector>

#include "models/autoregressive_model.h"
#include "models/pixelrnn/recurrent_layer.h"

namespace gm::pixelrnn {

enum class Architecture { row_lstm, diagonal_bilstm };

struct PixelRnnConfig {
  std::string name;
  Architecture architecture = Architecture::row_lstm;
  int64_t channels = 64;  // feature channels between layers (C)
  int64_t hidden = 32;    // LSTM units per layer (h)
  int layers = 2;
  int64_t head_channels = 64;  // width of the 1x1 output head
  int64_t input_kernel = 7;    // the MaskA convolution's size
  bool grey_only = false;      // a reference architecture fixed for 1-channel images
};

class PixelRnn : public models::AutoregressiveModel {
 public:
  PixelRnn(PixelRnnConfig config, const models::ImageShape& shape, const nn::Init& init);

  std::string config_name() const override { return config_.name; }
  models::ImageShape image_shape() const override { return shape_; }
  const PixelRnnConfig& config() const { return config_; }

  // uint8 images [N, C, H, W] -> the network's input x/127.5 - 1 in the model's dtype.
  Tensor scale(const Tensor& images) const;
  // x [N, C, H', W] (H' <= H: the network is causal in rows, so the top rows of an image can
  // be run alone) -> logits [N, 256, C, H', W]; logits[:, :, ch, r, c] depend only on the
  // values before (r, c, ch) in raster-then-colour order.
  Tensor logits(const Tensor& x) const override;
  models::LossOutput loss(const Tensor& images, Generator& gen) override;
  // Pixel by pixel, colour by colour: one network pass per value (on the rows up to the
  // current one), each drawn from softmax(logits / temperature) with `gen`.
  Tensor sample_naive(int64_t count, double temperature, Generator& gen) override;
  std::unique_ptr<models::IncrementalEvaluator> incremental(int64_t batch) const override;
  std::vector<uint8_t> draw(const Tensor& output, double temperature,
                            Generator& gen) const override;

 private:
  template <typename T>
  friend class PixelRnnEvaluator;  // the fast sampler rebuilds the layers per pixel
  PixelRnnConfig config_;
  models::ImageShape shape_;
  DType dtype_;
  Device device_;
  int groups_;
  nn::MaskedConv2d* input_ = nullptr;
  std::vector<RecurrentLayer*> layers_;
  PointwiseConv* head1_ = nullptr;
  PointwiseConv* head2_ = nullptr;
};

}  // namespace gm::pixelrnn

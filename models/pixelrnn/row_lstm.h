#pragma once
// PixelRNN's Row LSTM layer (docs/reference-models.md, rowlstm-ref). The image is processed a row
// at a time, top to bottom; every pixel of a row is updated at once.
//
//   input-to-state   is = MaskB 1x3 conv of x (taps: left, centre), C -> 4h, whole image
//   state-to-state   ss_r = conv1d(h_{r-1}, kernel 3, padding 1), h -> 4h, along the row
//   gates_r          [i, f, o, g] = is_r + ss_r
//   cell             c_r = sigmoid(f) c_{r-1} + sigmoid(i) tanh(g);  h_r = sigmoid(o) tanh(c_r)
//   output           x + Conv1x1 h -> C (h)
//
// H sequential steps (one per row). A pixel's state sees the three pixels above it in the
// previous row's state, so its context grows by one column per row upwards: a triangle,
// not the whole region above (docs/pixelrnn.md pictures it).
#include "models/pixelrnn/recurrent_layer.h"

namespace gm::pixelrnn {

class RowLstmLayer : public RecurrentLayer {
 public:
  // `groups`: the image's colour channels (1 for grey); `channels` and `hidden` must divide.
  RowLstmLayer(int64_t channels, int64_t hidden, int groups, const nn::Init& init);
  Tensor operator()(const Tensor& x) const override;

 private:
  template <typename T>
  friend class PixelRnnEvaluator;  // the fast sampler rebuilds the layer per position
  Tensor is_weight_, is_bias_;     // [4h, C, 1, 3] (right tap masked), [4h]
  Tensor ss_weight_, ss_bias_;     // [4h, h, 3], [4h]
  PointwiseConv* output_ = nullptr;
  int groups_;
};

}  // namespace gm::pixelrnn

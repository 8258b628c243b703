#pragma once
// PixelRNN's Diagonal BiLSTM layer (docs/reference-models.md, diaglstm-ref).
//
// Each direction skews its input (engine/ops/skew.cpp: row r shifted right by r), then walks the
// H+W-1 columns of the skewed map left to right:
//   input-to-state   Conv1x1 C -> 4h on the skewed map (computed for the whole map at once)
//   state-to-state   conv of kernel 2 along the height over the previous column's h, h -> 4h:
//                    row r sees rows r-1 and r, i.e. the pixel above and the pixel to the left
//   cell             the LSTM update, as in the Row LSTM
// and unskews. The second direction does the same on the width-reversed map (so it sees the
// pixel above and the pixel to the right), is reversed back, and is shifted down one row
// (row 0 gets zeros): a state that has seen pixel (r, c+1) only reaches row r+1.
//   output           x + Conv1x1 h -> C (forward + shifted backward)
//
// H+W-1 sequential steps per direction (2W-1 on a square image); the context of a pixel is the
// whole region above it and to its left.
#include "models/pixelrnn/recurrent_layer.h"

namespace gm::pixelrnn {

// One direction's parameters: input-to-state [4h, C, 1, 1] + [4h], state-to-state
// [4h, h, 2] + [4h].
class DiagonalDirection : public nn::Module {
 public:
  DiagonalDirection(int64_t channels, int64_t hidden, int groups, const nn::Init& init);
  // x [N, C, H, W] -> h [N, h, H, W]; `reverse` runs on the width-reversed map (and reverses
  // the result back).
  Tensor operator()(const Tensor& x, bool reverse) const;

 private:
  template <typename T>
  friend class PixelRnnEvaluator;  // the fast sampler rebuilds the layer per position
  Tensor is_weight_, is_bias_, ss_weight_, ss_bias_;
  int groups_;
};

class DiagonalBiLstmLayer : public RecurrentLayer {
 public:
  DiagonalBiLstmLayer(int64_t channels, int64_t hidden, int groups, const nn::Init& init);
  Tensor operator()(const Tensor& x) const override;

 private:
  template <typename T>
  friend class PixelRnnEvaluator;  // the fast sampler rebuilds the layer per position
  DiagonalDirection* left_to_right_ = nullptr;
  DiagonalDirection* right_to_left_ = nullptr;
  PointwiseConv* output_ = nullptr;
};

}  // namespace gm::pixelrnn

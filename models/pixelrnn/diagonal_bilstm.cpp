#include "models/pixelrnn/diagonal_bilstm.h"

#include "engine/ops.h"

namespace gm::pixelrnn {

DiagonalDirection::DiagonalDirection(int64_t channels, int64_t hidden, int groups,
                                     const nn::Init& init)
    : groups_(groups) {
  GM_CHECK(channels % groups == 0 && hidden % groups == 0,
           "Diagonal BiLSTM: {} channels and {} hidden units must divide into {} colour groups",
           channels, hidden, groups);
  is_weight_ = add_parameter("input_to_state.weight", {4 * hidden, channels, 1, 1}, channels, init);
  is_bias_ = add_parameter("input_to_state.bias", {4 * hidden}, channels, init);
  ss_weight_ = add_parameter("state_to_state.weight", {4 * hidden, hidden, 2}, hidden * 2, init);
  ss_bias_ = add_parameter("state_to_state.bias", {4 * hidden}, hidden * 2, init);
}

Tensor DiagonalDirection::operator()(const Tensor& x, bool reverse) const {
  // A 1x1 convolution commutes with skewing, so it runs on the unskewed map (half the
  // positions). Its bias is left out here and added by the scan at every position of the
  // skewed map, padding included, which is exactly a biased Conv1x1 on the skewed map.
  const Tensor is = pointwise_conv(x, is_weight_, Tensor(), groups_);
  // The skewed map is stored column-first ([N, 4h, H+W-1, H]) so the scan walks dim 2 and each
  // column is contiguous; row r of a column reads rows r-1 and r of the previous column.
  const Tensor h = lstm_scan(skew_columns(is, reverse), ss_weight_, is_bias_ + ss_bias_,
                             /*pad_before=*/1, groups_);
  return unskew_columns(h, reverse);
}

DiagonalBiLstmLayer::DiagonalBiLstmLayer(int64_t channels, int64_t hidden, int groups,
                                         const nn::Init& init) {
  left_to_right_ = &add_module<DiagonalDirection>("left_to_right", channels, hidden, groups, init);
  right_to_left_ = &add_module<DiagonalDirection>("right_to_left", channels, hidden, groups, init);
  output_ = &add_module<PointwiseConv>("output", hidden, channels, groups, init);
}

Tensor DiagonalBiLstmLayer::operator()(const Tensor& x) const {
  const Tensor forward = (*left_to_right_)(x, false);
  // Shift down one row: the right-to-left state at (r, c) has seen (r, c+1), a future pixel,
  // so it may only inform row r+1. Row 0 gets zeros.
  const Tensor backward = pad2d((*right_to_left_)(x, true), 1, -1, 0, 0);
  return x + (*output_)(forward + backward);
}

}  // namespace gm::pixelrnn

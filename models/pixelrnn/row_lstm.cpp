#include "models/pixelrnn/row_lstm.h"

#include "engine/ops.h"

namespace gm::pixelrnn {

RowLstmLayer::RowLstmLayer(int64_t channels, int64_t hidden, int groups, const nn::Init& init)
    : groups_(groups) {
  GM_CHECK(channels % groups == 0 && hidden % groups == 0,
           "Row LSTM: {} channels and {} hidden units must divide into {} colour groups", channels,
           hidden, groups);
  // The input-to-state kernel is a 1x3 type-B masked convolution, as in the PixelRNN paper:
  // the right tap is masked (the kernel skips it), the centre tap is masked by colour group.
  // Keeping the full 1x3 weight (rather than a 1x2 convolution on a left-padded input) is what
  // lets the colour-group masking of the centre tap come from the one masked-conv kernel, and
  // it matches a PyTorch masked Conv2d(C, 4h, (1, 3)): same parameter count and fan-in.
  is_weight_ =
      add_parameter("input_to_state.weight", {4 * hidden, channels, 1, 3}, channels * 3, init);
  is_bias_ = add_parameter("input_to_state.bias", {4 * hidden}, channels * 3, init);
  ss_weight_ = add_parameter("state_to_state.weight", {4 * hidden, hidden, 3}, hidden * 3, init);
  ss_bias_ = add_parameter("state_to_state.bias", {4 * hidden}, hidden * 3, init);
  output_ = &add_module<PointwiseConv>("output", hidden, channels, groups, init);
}

Tensor RowLstmLayer::operator()(const Tensor& x) const {
  // [N, 4h, H, W]: the input-to-state part of every row's gates, in one convolution.
  const Tensor is = masked_conv2d(x, is_weight_, Tensor(), MaskType::B, groups_);
  // Both biases add to the gates; the scan adds their sum once per step.
  const Tensor h = lstm_scan(is, ss_weight_, is_bias_ + ss_bias_, /*pad_before=*/1, groups_);
  return x + (*output_)(h);
}

}  // namespace gm::pixelrnn

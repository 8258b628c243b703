#include "models/pixelrnn/recurrent_layer.h"

namespace gm::pixelrnn {

Tensor pointwise_conv(const Tensor& x, const Tensor& weight, const Tensor& bias, int groups) {
  if (groups == 1) return conv2d(x, weight, bias);
  return masked_conv2d(x, weight, bias, MaskType::B, groups);
}

PointwiseConv::PointwiseConv(int64_t in, int64_t out, int groups, const nn::Init& init)
    : groups_(groups) {
  GM_CHECK(in % groups == 0 && out % groups == 0,
           "1x1 convolution {} -> {}: channel counts must divide into {} colour groups", in, out,
           groups);
  weight_ = add_parameter("weight", {out, in, 1, 1}, in, init);
  bias_ = add_parameter("bias", {out}, in, init);
}

}  // namespace gm::pixelrnn

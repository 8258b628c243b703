#pragma once
// What the two PixelRNN layers share: the layer interface and the 1x1 convolution that
// mixes channels (masked by colour group when the image has several channels).
#include <cstdint>

#include "models/nn.h"

namespace gm::pixelrnn {

// A residual PixelRNN layer: feature map [N, C, H, W] -> [N, C, H, W].
class RecurrentLayer : public nn::Module {
 public:
  virtual Tensor operator()(const Tensor& x) const = 0;
};

// A 1x1 convolution in -> out. With colour groups (one per image channel, channels split
// into contiguous R|G|B blocks) it is masked like a type-B 1x1 convolution: output group g
// sees input groups <= g only, so R features never see G or B of the same pixel.
Tensor pointwise_conv(const Tensor& x, const Tensor& weight, const Tensor& bias, int groups);

class PointwiseConv : public nn::Module {
 public:
  PointwiseConv(int64_t in, int64_t out, int groups, const nn::Init& init);
  Tensor operator()(const Tensor& x) const { return pointwise_conv(x, weight_, bias_, groups_); }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  int colour_groups() const { return groups_; }

 private:
  Tensor weight_, bias_;
  int groups_;
};

}  // namespace gm::pixelrnn

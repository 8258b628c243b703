#pragma once
// Building blocks with parameters. A Module owns named parameter tensors (leaves that
// require grad) and child modules; `parameters()` lists them all with dotted names
// ("res0.conv1.weight"), which are also the checkpoint's tensor names.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/named_tensor.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace gm::nn {

// The engine's name + tensor pair, so parameters() feeds optimizers and checkpoints as is.
using NamedTensor = gm::NamedTensor;

// Where parameters are created: device, dtype and the initialisation generator.
struct Init {
  Device device = Device::cpu();
  DType dtype = DType::f32;
  Generator* gen = nullptr;  // required: every initialisation is seeded
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  std::vector<NamedTensor> parameters() const;
  int64_t parameter_count() const;

 protected:
  // PyTorch's default: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (docs/reference-models.md).
  Tensor add_parameter(const std::string& name, const Shape& shape, int64_t fan_in,
                       const Init& init);
  template <typename M, typename... Args>
  M& add_module(const std::string& name, Args&&... args) {
    auto m = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *m;
    children_.emplace_back(name, std::move(m));
    return ref;
  }

 private:
  std::vector<NamedTensor> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

// Dropout (Srivastava et al. 2014): zeroes each element of x with probability p and scales the
// rest by 1 / (1 - p), so every element keeps its expectation. The mask is drawn from `gen`
// (Philox), so a seed gives the same mask on every device, and the gradient flows through the
// product with that mask. Models call it only while training; p = 0 returns x itself.
Tensor dropout(const Tensor& x, double p, Generator& gen);

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, const Init& init, bool bias = true);
  Tensor operator()(const Tensor& x) const { return linear(x, weight_, bias_); }

 private:
  Tensor weight_, bias_;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, const Init& init, int64_t stride = 1,
         int64_t padding = 0);
  Tensor operator()(const Tensor& x) const { return conv2d(x, weight_, bias_, stride_, padding_); }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  Tensor weight_, bias_;
  int64_t stride_, padding_;
};

// PixelCNN's masked convolution (kernel odd, "same" padding); see docs/reference-models.md.
class MaskedConv2d : public Module {
 public:
  MaskedConv2d(int64_t in, int64_t out, int64_t kernel, MaskType type, int colour_groups,
               const Init& init);
  Tensor operator()(const Tensor& x) const {
    return masked_conv2d(x, weight_, bias_, type_, groups_);
  }
  // The layer applied to relu(x), plus `residual` when defined, as one fused op
  // (relu_masked_conv2d): the same values without storing relu(x).
  Tensor relu_input(const Tensor& x, const Tensor& residual = Tensor()) const {
    return relu_masked_conv2d(x, weight_, bias_, type_, groups_, residual);
  }
  // For incremental evaluators, which rebuild the layer one position at a time.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  MaskType type() const { return type_; }
  int colour_groups() const { return groups_; }

 private:
  Tensor weight_, bias_;
  MaskType type_;
  int groups_;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, const Init& init, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0);
  Tensor operator()(const Tensor& x) const {
    return conv_transpose2d(x, weight_, bias_, stride_, padding_, output_padding_);
  }

 private:
  Tensor weight_, bias_;
  int64_t stride_, padding_, output_padding_;
};

// The conditional PixelCNN's per-class bias (van den Oord et al. 2016, "Conditional Image
// Generation with PixelCNN Decoders"): a learned vector V_y per class y, added to a layer's
// output at every position, h + V^T onehot(y). It depends on the label only, never on a pixel,
// so it adds no path between positions and keeps the network autoregressive. Zero at first:
// the conditional model starts as its unconditional twin.
class ClassBias : public Module {
 public:
  ClassBias(int64_t classes, int64_t channels, const Init& init);
  // h [N, channels, H, W] (or [N, channels]), onehot [N, classes].
  Tensor operator()(const Tensor& h, const Tensor& onehot) const;
  const Tensor& table() const { return table_; }

 private:
  Tensor table_;  // [classes, channels]
};

}  // namespace gm::nn

// Fused bias + ReLU: relu(x + bias) with the bias per channel (dim 1), in one kernel each way.
// The backward needs only the output (kernels/common/bias_relu_math.h), so x is not kept.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

Tensor bias_relu(const Tensor& x, const Tensor& bias) {
  const char* op = "bias_relu";
  check_floating(op, x);
  check_same_device(op, x, bias);
  check_same_dtype(op, x, bias);
  GM_CHECK(x.ndim() >= 2, "bias_relu: x {} needs a channel dimension (dim 1): [N, C, ...]",
           x.describe());
  check_shape(op, "bias", bias, {x.size(1)});
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  x.backend().bias_relu_forward(x.detach(), bias.detach(), y);
  record(op, {x, bias}, {&y}, [y_saved = y.detach()](const std::vector<Tensor>& g) {
    Tensor dx = Tensor::empty(y_saved.shape(), y_saved.dtype(), y_saved.device());
    y_saved.backend().bias_relu_backward(y_saved, g[0], dx);
    std::vector<int> dims = {0};  // every dim but the channels
    for (int d = 2; d < y_saved.ndim(); ++d)
      dims.push_back(d);
    return std::vector<Tensor>{dx, sum(dx, dims)};
  });
  return y;
}

}  // namespace gm

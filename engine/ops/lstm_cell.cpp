// The LSTM cell with fused gates: one kernel computes both outputs from the four gate
// pre-activations, and one kernel computes the gradients of all four and of c_prev.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

LstmState lstm_cell(const Tensor& gates, const Tensor& c_prev) {
  const char* op = "lstm_cell";
  check_floating(op, gates);
  check_same_device(op, gates, c_prev);
  check_same_dtype(op, gates, c_prev);
  if (c_prev.ndim() < 2)
    throw ShapeError(fmt::format("{}: c_prev must be [N, H, positions...], got shape {}", op,
                                 shape_str(c_prev.shape())));
  Shape want = c_prev.shape();
  want[1] *= 4;  // the four gates (i, f, o, g), each H channels, stacked along dim 1
  check_shape(op, "gates", gates, want);

  LstmState out{Tensor::empty(c_prev.shape(), c_prev.dtype(), c_prev.device()),
                Tensor::empty(c_prev.shape(), c_prev.dtype(), c_prev.device())};
  if (c_prev.numel() > 0)
    gates.backend().lstm_cell_forward(gates.detach(), c_prev.detach(), out.h, out.c);

  const Tensor c_saved = out.c.detach();
  record(op, {gates, c_prev}, {&out.h, &out.c},
         [gates, c_prev, c_saved](const std::vector<Tensor>& g) {
           Tensor dgates = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
           Tensor dc_prev = Tensor::empty(c_prev.shape(), c_prev.dtype(), c_prev.device());
           if (c_prev.numel() > 0)
             gates.backend().lstm_cell_backward(gates.detach(), c_prev.detach(), c_saved, g[0],
                                                g[1], dgates, dc_prev);
           return std::vector<Tensor>{gates.requires_grad() ? dgates : Tensor(),
                                      c_prev.requires_grad() ? dc_prev : Tensor()};
         });
  return out;
}

}  // namespace gm

// Fused log-softmax + NLL over the values dim of [N, V, positions...] logits, and categorical
// sampling from the same logits. Both view the logits as [N, V, S] (S = the trailing dims
// flattened, 1 when there are none), which is how the kernels see them.
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace gm {

namespace {

struct ValuesLayout {
  int64_t n = 0, v = 0, s = 1;
  Shape positions;  // logits' shape without dim 1: [N, trailing...]
};

ValuesLayout values_layout(std::string_view op, const Tensor& logits) {
  check_floating(op, logits);
  if (logits.ndim() < 2)
    throw ShapeError(
        fmt::format("{}: logits must be [N, V, positions...] with V values per "
                    "position, got shape {}",
                    op, shape_str(logits.shape())));
  ValuesLayout l;
  l.n = logits.size(0);
  l.v = logits.size(1);
  for (int d = 2; d < logits.ndim(); ++d)
    l.s *= logits.size(d);
  l.positions = logits.shape();
  l.positions.erase(l.positions.begin() + 1);
  if (l.v == 0)
    throw ShapeError(
        fmt::format("{}: logits {} have no values along dim 1", op, logits.describe()));
  return l;
}

std::string index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

// Every target must name one of the V values. This reads the targets on the host (one small
// copy); uint8 targets need no look when V >= 256, the pixel models' case.
void check_targets(std::string_view op, const Tensor& target, int64_t V) {
  if (target.dtype() != DType::u8 && target.dtype() != DType::i32)
    throw ShapeError(fmt::format("{}: target must be uint8 or int32 class indices, got {}", op,
                                 target.describe()));
  if (target.dtype() == DType::u8 && V >= 256) return;
  const std::vector<int32_t> values = target.to_vector<int32_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= V)
      fail(
          "{}: target value {} at index {} of target {} is outside [0, {}): targets index the "
          "{} values of the logits' dim 1",
          op, values[i], index_str(static_cast<int64_t>(i), target.shape()), target.describe(), V,
          V);
  }
}

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& target) {
  const char* op = "softmax_cross_entropy";
  const ValuesLayout l = values_layout(op, logits);
  check_same_device(op, logits, target);
  check_shape(op, "target", target, l.positions);
  check_targets(op, target, l.v);

  const Tensor x = reshape(logits.detach(), {l.n, l.v, l.s});
  const Tensor t = reshape(target, {l.n, l.s});
  Tensor nll = Tensor::zeros({l.n}, logits.dtype(), logits.device());
  if (!needs_grad({&logits})) {
    if (x.numel() > 0) logits.backend().softmax_xent_forward(x, t, nll);
    return nll;
  }
  // Training: the forward keeps each position's max and sum for the backward (float64, 12 bytes
  // a position against the 256 logits' 1 KiB it then need not read twice more).
  Tensor stats = Tensor::empty({2, l.n, l.s}, DType::f64, logits.device());
  if (x.numel() > 0) logits.backend().softmax_xent_forward_stats(x, t, nll, stats);

  record(op, {logits}, {&nll}, [logits, x, t, stats](const std::vector<Tensor>& g) {
    // The kernel writes every element: no need to zero 256 values per position first.
    Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    Tensor d = reshape(dlogits, x.shape());  // shares storage with dlogits
    if (x.numel() > 0) logits.backend().softmax_xent_backward_stats(x, t, stats, g[0], d);
    return std::vector<Tensor>{dlogits};
  });
  return nll;
}

Tensor sample_categorical(const Tensor& logits, double temperature, Generator& gen) {
  const char* op = "sample_categorical";
  const ValuesLayout l = values_layout(op, logits);
  GM_CHECK(temperature > 0.0 && std::isfinite(temperature),
           "{}: temperature must be a positive finite number, got {} (use a small value such as "
           "1e-3 for near-greedy sampling)",
           op, temperature);
  Tensor out = Tensor::empty(l.positions, DType::i32, logits.device());
  const uint64_t offset = gen.advance(static_cast<uint64_t>(l.n * l.s));
  Tensor flat = reshape(out, {l.n, l.s});
  if (out.numel() > 0)
    logits.backend().sample_categorical(reshape(logits.detach(), {l.n, l.v, l.s}), temperature,
                                        gen.seed(), offset, flat);
  return out;
}

}  // namespace gm

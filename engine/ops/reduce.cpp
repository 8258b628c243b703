// Sums and means over dimensions. One reduction kernel (sum over the middle of
// [outer, n, inner]) applied once per reduced dim; the gradient broadcasts back.
#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

// Sums one dim away (keeping it as size 1), without recording.
Tensor sum_one_dim(const Tensor& x, size_t d) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < d; ++i)
    outer *= x.shape()[i];
  for (size_t i = d + 1; i < x.shape().size(); ++i)
    inner *= x.shape()[i];
  Shape out_shape = x.shape();
  out_shape[d] = 1;
  Tensor y = Tensor::zeros(out_shape, x.dtype(), x.device());
  if (x.numel() > 0) x.backend().sum_axis(x, y, outer, x.shape()[d], inner);
  return y;
}

std::vector<size_t> normalize_dims(std::string_view op, const Tensor& x,
                                   const std::vector<int>& dims) {
  std::vector<size_t> out;
  for (int dim : dims) {
    const int d = dim < 0 ? dim + x.ndim() : dim;
    if (d < 0 || d >= x.ndim())
      throw ShapeError(fmt::format("{}: dimension {} out of range for {}", op, dim, x.describe()));
    if (std::find(out.begin(), out.end(), static_cast<size_t>(d)) == out.end())
      out.push_back(static_cast<size_t>(d));
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  check_floating("sum", x);
  const std::vector<size_t> ds = normalize_dims("sum", x, dims);
  Tensor y = x.detach();
  for (size_t d : ds)
    y = sum_one_dim(y, d);
  Shape kept = y.shape();
  Shape out_shape;
  for (size_t i = 0; i < kept.size(); ++i)
    if (keepdim || std::find(ds.begin(), ds.end(), i) == ds.end()) out_shape.push_back(kept[i]);
  if (!keepdim) y = reshape(y, out_shape);
  if (y.same(x)) y = x.clone();  // summing over no dims still yields a new tensor
  const Shape in_shape = x.shape();
  record("sum", {x}, {&y}, [in_shape, kept](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{broadcast_to(reshape(g[0], kept), in_shape)};
  });
  return y;
}

Tensor sum(const Tensor& x) {
  std::vector<int> all(static_cast<size_t>(x.ndim()));
  for (int i = 0; i < x.ndim(); ++i)
    all[static_cast<size_t>(i)] = i;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
  int64_t count = 1;
  for (size_t d : normalize_dims("mean", x, dims))
    count *= x.shape()[d];
  GM_CHECK(count > 0, "mean over an empty dimension of {}", x.describe());
  return mul_scalar(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) {
  GM_CHECK(x.numel() > 0, "mean of an empty tensor {}", x.describe());
  return mul_scalar(sum(x), 1.0 / static_cast<double>(x.numel()));
}

}  // namespace gm

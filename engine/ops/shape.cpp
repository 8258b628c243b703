// Layout ops. All but reshape copy, through the backend's one strided-copy kernel: each op
// only describes the box it moves (extents plus source and destination strides).
#include <numeric>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace gm {

namespace {

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

// A box covering all of `shape`, with both sides contiguous; callers then adjust.
StridedCopy full_box(const Shape& shape) {
  StridedCopy box;
  box.ndim = static_cast<int>(shape.size());
  const auto strides = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i) {
    box.extent[i] = shape[i];
    box.src_stride[i] = strides[i];
    box.dst_stride[i] = strides[i];
  }
  return box;
}

int normalize_dim(std::string_view op, int dim, int ndim) {
  const int d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim)
    throw ShapeError(fmt::format("{}: dimension {} out of range for rank {}", op, dim, ndim));
  return d;
}

// Copies x into a zero tensor of `shape` at element offset `dst_offset` with x's extents
// (strides of `shape`): the common backward of slice and crop.
Tensor place_into_zeros(const Tensor& x, const Shape& shape, int64_t dst_offset) {
  Tensor out = Tensor::zeros(shape, x.dtype(), x.device());
  StridedCopy box = full_box(x.shape());
  const auto dst_strides = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i)
    box.dst_stride[i] = dst_strides[i];
  box.dst_offset = dst_offset;
  x.backend().strided_copy(x, out, box);
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape resolved = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      GM_CHECK(infer < 0, "reshape: more than one -1 in {}", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    GM_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot infer -1 in {} for {}",
             shape_str(shape), x.describe());
    resolved[static_cast<size_t>(infer)] = x.numel() / known;
  }
  if (shape_numel(resolved) != x.numel())
    throw ShapeError(fmt::format("reshape: {} has {} elements, shape {} needs {}", x.describe(),
                                 x.numel(), shape_str(resolved), shape_numel(resolved)));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl().storage;
  impl->shape = resolved;
  impl->dtype = x.dtype();
  impl->device = x.device();
  Tensor y(std::move(impl));
  const Shape in_shape = x.shape();
  record("reshape", {x}, {&y}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{reshape(g[0], in_shape)};
  });
  return y;
}

Tensor permute(const Tensor& x, const std::vector<int>& order) {
  const int nd = x.ndim();
  GM_CHECK(static_cast<int>(order.size()) == nd, "permute: order has {} entries for {}",
           order.size(), x.describe());
  std::vector<int> inverse(static_cast<size_t>(nd), -1);
  Shape out_shape(static_cast<size_t>(nd));
  for (int i = 0; i < nd; ++i) {
    const int d = normalize_dim("permute", order[static_cast<size_t>(i)], nd);
    GM_CHECK(inverse[static_cast<size_t>(d)] < 0, "permute: dimension {} repeated", d);
    inverse[static_cast<size_t>(d)] = i;
    out_shape[static_cast<size_t>(i)] = x.shape()[static_cast<size_t>(d)];
  }
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  StridedCopy box = full_box(out_shape);
  const auto in_strides = contiguous_strides(x.shape());
  for (int i = 0; i < nd; ++i)
    box.src_stride[static_cast<size_t>(i)] = in_strides[static_cast<size_t>(
        normalize_dim("permute", order[static_cast<size_t>(i)], nd))];
  x.backend().strided_copy(x, y, box);
  record("permute", {x}, {&y}, [inverse](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{permute(g[0], inverse)};
  });
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  GM_CHECK(!xs.empty(), "concat: no tensors given");
  const Tensor& first = xs[0];
  const int d = normalize_dim("concat", dim, first.ndim());
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(d)] = 0;
  for (const Tensor& t : xs) {
    check_same_device("concat", first, t);
    check_same_dtype("concat", first, t);
    GM_CHECK(t.ndim() == first.ndim(), "concat: ranks differ ({} and {})", first.describe(),
             t.describe());
    for (int i = 0; i < first.ndim(); ++i)
      if (i != d && t.shape()[static_cast<size_t>(i)] != first.shape()[static_cast<size_t>(i)])
        throw ShapeError(fmt::format("concat along dim {}: {} and {} differ in dim {}", d,
                                     first.describe(), t.describe(), i));
    out_shape[static_cast<size_t>(d)] += t.shape()[static_cast<size_t>(d)];
  }
  Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
  const auto out_strides = contiguous_strides(out_shape);
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const Tensor& t : xs) {
    StridedCopy box = full_box(t.shape());
    for (size_t i = 0; i < out_strides.size(); ++i)
      box.dst_stride[i] = out_strides[i];
    box.dst_offset = start * out_strides[static_cast<size_t>(d)];
    t.backend().strided_copy(t, y, box);
    starts.push_back(start);
    start += t.shape()[static_cast<size_t>(d)];
  }
  std::vector<int64_t> sizes;
  for (const Tensor& t : xs)
    sizes.push_back(t.shape()[static_cast<size_t>(d)]);
  record("concat", xs, {&y}, [d, starts, sizes](const std::vector<Tensor>& g) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < starts.size(); ++i)
      grads.push_back(slice(g[0], d, starts[i], starts[i] + sizes[i]));
    return grads;
  });
  return y;
}

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end) {
  const int d = normalize_dim("slice", dim, x.ndim());
  const int64_t size = x.shape()[static_cast<size_t>(d)];
  if (start < 0 || end > size || start > end)
    throw ShapeError(fmt::format("slice: range [{}, {}) out of bounds for dim {} of {}", start, end,
                                 d, x.describe()));
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(d)] = end - start;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  StridedCopy box = full_box(out_shape);
  const auto in_strides = contiguous_strides(x.shape());
  for (size_t i = 0; i < in_strides.size(); ++i)
    box.src_stride[i] = in_strides[i];
  box.src_offset = start * in_strides[static_cast<size_t>(d)];
  x.backend().strided_copy(x, y, box);
  const Shape in_shape = x.shape();
  const int64_t offset = box.src_offset;
  record("slice", {x}, {&y}, [in_shape, offset](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{place_into_zeros(g[0], in_shape, offset)};
  });
  return y;
}

Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  GM_CHECK(x.ndim() >= 2, "pad2d: needs a tensor of rank >= 2, got {}", x.describe());
  const size_t hd = static_cast<size_t>(x.ndim() - 2), wd = hd + 1;
  const int64_t h = x.shape()[hd], w = x.shape()[wd];
  Shape out_shape = x.shape();
  out_shape[hd] = h + top + bottom;
  out_shape[wd] = w + left + right;
  GM_CHECK(out_shape[hd] >= 0 && out_shape[wd] >= 0, "pad2d: padding crops {} below zero size",
           x.describe());
  // The overlap of input and output: rows [max(0,-top), ...) of x land at max(0, top) of y.
  const int64_t src_r = std::max<int64_t>(0, -top), dst_r = std::max<int64_t>(0, top);
  const int64_t src_c = std::max<int64_t>(0, -left), dst_c = std::max<int64_t>(0, left);
  const int64_t rows = std::max<int64_t>(0, std::min(h - src_r, out_shape[hd] - dst_r));
  const int64_t cols = std::max<int64_t>(0, std::min(w - src_c, out_shape[wd] - dst_c));
  Tensor y = Tensor::zeros(out_shape, x.dtype(), x.device());
  Shape box_shape = x.shape();
  box_shape[hd] = rows;
  box_shape[wd] = cols;
  StridedCopy box = full_box(box_shape);
  const auto in_strides = contiguous_strides(x.shape());
  const auto out_strides = contiguous_strides(out_shape);
  for (size_t i = 0; i < in_strides.size(); ++i) {
    box.src_stride[i] = in_strides[i];
    box.dst_stride[i] = out_strides[i];
  }
  box.src_offset = src_r * in_strides[hd] + src_c;
  box.dst_offset = dst_r * out_strides[hd] + dst_c;
  x.backend().strided_copy(x, y, box);
  record("pad2d", {x}, {&y}, [top, bottom, left, right](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{pad2d(g[0], -top, -bottom, -left, -right)};
  });
  return y;
}

Tensor flip(const Tensor& x, int dim) {
  const int d = normalize_dim("flip", dim, x.ndim());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  StridedCopy box = full_box(x.shape());
  const size_t k = static_cast<size_t>(d);
  box.src_offset = (x.shape()[k] - 1) * box.src_stride[k];
  box.src_stride[k] = -box.src_stride[k];
  x.backend().strided_copy(x, y, box);
  record("flip", {x}, {&y},
         [d](const std::vector<Tensor>& g) { return std::vector<Tensor>{flip(g[0], d)}; });
  return y;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape common = broadcast_shape("broadcast_to", x.shape(), shape);
  if (common != shape)
    throw ShapeError(
        fmt::format("broadcast_to: {} cannot be broadcast to {}", x.describe(), shape_str(shape)));
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  StridedCopy box = full_box(shape);
  const size_t lead = shape.size() - x.shape().size();
  const auto in_strides = contiguous_strides(x.shape());
  for (size_t i = 0; i < shape.size(); ++i)
    box.src_stride[i] = (i < lead || x.shape()[i - lead] == 1) ? 0 : in_strides[i - lead];
  x.backend().strided_copy(x, y, box);
  const Shape in_shape = x.shape();
  record("broadcast_to", {x}, {&y}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{sum_to_shape(g[0], in_shape)};
  });
  return y;
}

}  // namespace gm

// Skewing: the Diagonal BiLSTM's trick for turning diagonals into columns.
//
// Row r of an [H, W] map is shifted right by r, giving an [H, H+W-1] map (the last row ends
// in column (H-1) + (W-1)):
//
//     a b c          a b c . .
//     d e f   -->    . d e f .        skewed column s holds the pixels (r, s - r),
//     g h i          . . g h i        i.e. one anti-diagonal of the original map
//
// In the skewed map a pixel's left neighbour (r, c-1) and upper neighbour (r-1, c) both lie
// in the previous column (s-1), at rows r and r-1. So an LSTM that walks the columns left to
// right, with a state-to-state convolution of kernel 2 along the height, updates a whole
// diagonal at once: H+W-1 sequential steps instead of H*W.
//
// Each function is one strided copy, and each one's backward is its inverse, recorded right
// below it. Declarations and layouts: engine/ops.h.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace gm {

namespace {

// Row H-1 is shifted by H-1 and is W wide. Not 2W-1: that holds only for square maps, and a
// taller map (H > W) would be written past its end.
int64_t skewed_width(int64_t h, int64_t w) {
  return h + w - 1;
}

// How a skewed map is stored: [N, C, H, H+W-1] (the picture) or transposed [N, C, H+W-1, H]
// (the scan's layout); `reverse` skews the width-reversed map.
struct SkewLayout {
  bool transposed = false;
  bool reverse = false;
};

// The box moving every pixel between an unskewed [N, C, H, W] map (the `src` side, contiguous)
// and its skewed map (the `dst` side). Pixel (r, j) lands in skewed column s = r + jj with
// jj = j (or W-1-j when reversed), so its skewed offset is linear in r and j: one box.
StridedCopy skew_box(int64_t n, int64_t c, int64_t h, int64_t w, SkewLayout layout) {
  const int64_t ws = skewed_width(h, w);
  StridedCopy box;
  box.ndim = 4;
  box.extent = {n, c, h, w};
  box.src_stride = {c * h * w, h * w, w, 1};
  // Row-major skewed: offset r*ws + s = r*(ws+1) + jj.  Transposed: s*h + r = r*(h+1) + jj*h.
  const int64_t per_row = layout.transposed ? h + 1 : ws + 1;
  const int64_t per_col = layout.transposed ? h : 1;
  box.dst_stride = {c * h * ws, h * ws, per_row, layout.reverse ? -per_col : per_col};
  box.dst_offset = layout.reverse ? (w - 1) * per_col : 0;
  return box;
}

StridedCopy swap_sides(StridedCopy box) {
  std::swap(box.src_stride, box.dst_stride);
  std::swap(box.src_offset, box.dst_offset);
  return box;
}

Tensor unskew_impl(const Tensor& s, SkewLayout layout);

Tensor skew_impl(const Tensor& x, SkewLayout layout) {
  check_ndim("skew", "x", x, 4);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  GM_CHECK(h >= 1 && w >= 1, "skew: {} has no rows or no columns", x.describe());
  const int64_t ws = skewed_width(h, w);
  const Shape out_shape = layout.transposed ? Shape{n, c, ws, h} : Shape{n, c, h, ws};
  Tensor y = Tensor::zeros(out_shape, x.dtype(), x.device());
  const StridedCopy box = skew_box(n, c, h, w, layout);
  x.backend().strided_copy(x, y, box);
  record("skew", {x}, {&y}, [layout](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{unskew_impl(g[0], layout)};
  });
  return y;
}

Tensor unskew_impl(const Tensor& s, SkewLayout layout) {
  check_ndim("unskew", "s", s, 4);
  const int64_t n = s.size(0), c = s.size(1);
  const int64_t h = layout.transposed ? s.size(3) : s.size(2);
  const int64_t ws = layout.transposed ? s.size(2) : s.size(3);
  // A skewed [H, W] map is H+W-1 wide, so W = ws - H + 1 must be at least 1.
  if (ws < h)
    throw ShapeError(fmt::format(
        "unskew: {} is not a skewed map: its skewed width {} is less than its height {} (a "
        "skewed [H, W] map is H+W-1 wide; pass the output of skew{} unchanged)",
        s.describe(), ws, h, layout.transposed ? "_columns" : ""));
  const int64_t w = ws - h + 1;
  Tensor y = Tensor::empty({n, c, h, w}, s.dtype(), s.device());
  const StridedCopy box = swap_sides(skew_box(n, c, h, w, layout));
  s.backend().strided_copy(s, y, box);
  record("unskew", {s}, {&y}, [layout](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{skew_impl(g[0], layout)};
  });
  return y;
}

}  // namespace

Tensor skew(const Tensor& x) {
  return skew_impl(x, {});
}
Tensor unskew(const Tensor& s) {
  return unskew_impl(s, {});
}
Tensor skew_columns(const Tensor& x, bool reverse) {
  return skew_impl(x, {.transposed = true, .reverse = reverse});
}
Tensor unskew_columns(const Tensor& s, bool reverse) {
  return unskew_impl(s, {.transposed = true, .reverse = reverse});
}

}  // namespace gm
